"""Shared fixtures: small BLURB-format data written per test, composing the config in-process, and a
runner for the real CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from blurb_lab.config.compose import compose_config  # noqa: F401 - the one way tests compose conf/

REPO = Path(__file__).resolve().parents[1]
SHARED_BLURB = (REPO / ".." / "shared" / "blurb").resolve()
WORDS = "cell gene protein tumour binding expression pathway receptor kinase inhibitor mutation".split()


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def make_biosses_like(root: Path, sizes: tuple[int, int, int] = (24, 8, 8)) -> Path:
    """Sentence pairs whose score is the word overlap: learnable, in the BIOSSES record format."""
    rng = random.Random(0)
    for split, n in zip(("train", "dev", "test"), sizes, strict=False):
        rows = []
        for i in range(n):
            a = rng.sample(WORDS, 5)
            shared = rng.randint(0, 4)
            b = a[:shared] + rng.sample([w for w in WORDS if w not in a], 5 - shared)
            rows.append({"id": f"biosses-{split}-{i}", "sentence1": " ".join(a),
                         "sentence2": " ".join(b), "label": float(shared)})  # fmt: skip
        write_jsonl(root / "biosses" / f"{split}.jsonl", rows)
    return root


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    return make_biosses_like(tmp_path / "blurb")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLURB_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "token-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600):
    """Run `python -m blurb_lab` as a user would, in `cwd`, outputs under cwd."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "blurb_lab", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def needs_shared_blurb(task: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not (SHARED_BLURB / task).is_dir(), reason=f"real BLURB data not found at {SHARED_BLURB / task}"
    )


def make_task_fixtures(root: Path, n: tuple[int, int, int] = (16, 6, 6)) -> Path:
    """Small data for one task of every type, in the formats of ../shared/blurb/README.md."""
    rng = random.Random(1)
    hoc_labels = 10

    def words(k: int) -> list[str]:
        return [rng.choice(WORDS) for _ in range(k)]

    def ner(i: int, split: str, task: str) -> dict:
        tokens = words(rng.randint(3, 30))
        tags = []
        for _ in tokens:
            previous = tags[-1] if tags else "O"
            tags.append(rng.choice(["B", "O", "O"] + (["I"] if previous != "O" else [])))
        return {"id": f"{task}-{split}-{i}", "tokens": tokens, "ner_tags": tags}

    def pico(i: int, split: str, task: str) -> dict:
        tokens = words(rng.randint(3, 20))
        return {"id": f"{task}-{split}-{i}", "tokens": tokens,
                "ner_tags": [rng.choice(["I-PAR", "I-INT", "I-OUT", "O"]) for _ in tokens]}  # fmt: skip

    def gad(i: int, split: str, task: str) -> dict:
        text = " ".join(words(4) + ["@GENE$"] + words(3) + ["@DISEASE$"] + words(2))
        return {"id": f"{task}-{split}-{i}", "sentence": text, "label": rng.choice(["0", "1"])}

    def bioasq(i: int, split: str, task: str) -> dict:
        return {"id": f"{task}-{split}-{i}", "sentence1": " ".join(words(6)), "sentence2": " ".join(words(20)),
                "label": rng.choice(["yes", "no"])}  # fmt: skip

    def hoc(i: int, split: str, task: str) -> dict:
        return {"id": f"{task}-{split}-{i}", "sentence": " ".join(words(30)),
                "label": [int(rng.random() < 0.3) for _ in range(hoc_labels)]}  # fmt: skip

    for task, make in (("ncbi_disease", ner), ("ebm_pico", pico), ("gad", gad), ("bioasq", bioasq), ("hoc", hoc)):
        for split, count in zip(("train", "dev", "test"), n, strict=True):
            write_jsonl(root / task / f"{split}.jsonl", [make(i, split, task) for i in range(count)])
    make_biosses_like(root, n)
    return root
