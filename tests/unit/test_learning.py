"""Learning gates: with the default recipe, a tiny model must beat the trivial predictor on test by
a fixed margin on small synthetic tasks whose labels carry a learnable signal; MiniLM's slow gates
must also beat what the same model scores untrained. Every gate fails when nothing is trained
(lr 1e-12; measured in docs/findings.md, "Does it learn?"), so a recipe or head that learns nothing cannot
pass unseen."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest

from blurb_lab.train import run_job
from tests.conftest import WORDS, compose_config, write_jsonl

MARGIN = 0.5  # test score minus the trivial predictor's test score
SIZES = {"train": 600, "dev": 80, "test": 80}
CUE = "kinase"  # the word that carries the signal


def _sentence(rng: random.Random, n_cue: int, length: int = 8) -> list[str]:
    words = [rng.choice([w for w in WORDS if w != CUE]) for _ in range(length - n_cue)] + [CUE] * n_cue
    rng.shuffle(words)
    return words


def make_signal_tasks(root: Path) -> Path:
    """gad: label 1 iff the cue word occurs (a quarter of the records); biosses: label = how often it
    occurs in the pair (0..4); ncbi_disease: the cue word is an entity (B), every other word O."""
    rng = random.Random(7)
    for split, n in SIZES.items():
        gad, pairs, ner = [], [], []
        for i in range(n):
            positive = int(i % 4 == 0)  # 1 in 4: predicting all positive scores F1 0.4, below the margin
            text = _sentence(rng, positive)
            gad.append({"id": f"gad-{split}-{i}", "sentence": " ".join(text), "label": str(positive)})
            a, b = rng.randint(0, 2), rng.randint(0, 2)
            pairs.append({"id": f"biosses-{split}-{i}", "sentence1": " ".join(_sentence(rng, a)),
                          "sentence2": " ".join(_sentence(rng, b)), "label": float(a + b)})  # fmt: skip
            tokens = _sentence(rng, rng.randint(0, 2), length=10)
            ner.append(
                {"id": f"ncbi-{split}-{i}", "tokens": tokens, "ner_tags": ["B" if t == CUE else "O" for t in tokens]}
            )
        write_jsonl(root / "gad" / f"{split}.jsonl", gad)
        write_jsonl(root / "biosses" / f"{split}.jsonl", pairs)
        write_jsonl(root / "ncbi_disease" / f"{split}.jsonl", ner)
    return root


def train_once(task: str, root: Path, out: Path, *overrides: str) -> dict:
    cfg = compose_config(overrides=[f"task={task}", "model=tiny_bert", f"data.root={root}", f"paths.output_dir={out}",
                   f"data.cache_dir={out / 'cache'}", "trainer.enable_progress_bar=false", *overrides],
    )  # fmt: skip
    return run_job(cfg, out, [])


@pytest.fixture(scope="module")
def signal_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_signal_tasks(tmp_path_factory.mktemp("signal"))


@pytest.mark.parametrize("task", ["gad", "biosses", "ncbi_disease"])
def test_default_recipe_beats_the_trivial_predictor_on_test(task: str, signal_root: Path, tmp_path: Path) -> None:
    results = train_once(task, signal_root, tmp_path)
    assert results["status"] == "ok", results
    assert results["test_score"] - results["trivial_test_score"] >= MARGIN, results
    if task == "biosses":  # Pearson ignores scale: also check the predictions reach the labels' scale
        gold = [json.loads(line)["label"] for line in (signal_root / "biosses" / "test.jsonl").read_text().splitlines()]
        predicted = [json.loads(line)["prediction"] for line in (tmp_path / "predictions_test.jsonl").open()]
        assert abs(statistics.fmean(predicted) - statistics.fmean(gold)) <= 0.5
        assert statistics.pstdev(predicted) >= 0.5 * statistics.pstdev(gold)


# --- MiniLM on real BLURB data (make test-slow) --------------------------------------------------
