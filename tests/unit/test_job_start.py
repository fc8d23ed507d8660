"""What a job no longer does twice: the data check the preflight recorded, the trivial predictor's
scores and the cosine head's start (cached by content), and full garbage collections over the
modules of the training stack."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from blurb_lab import train
from blurb_lab.data.check_cache import check_task_data_once
from blurb_lab.data.readers import load_splits
from blurb_lab.references import trivial_scores
from blurb_lab.tasks import get_task_type
from tests.conftest import compose_config, make_biosses_like

COSINE = ["task=biosses", "model=tiny_bert", "model.pair_head=cosine", "model.pooling=mean", "data.batch_size=4"]


def config(root: Path, cache: Path, *extra: str):
    return compose_config([*COSINE, f"data.root={root}", f"data.cache_dir={cache}", *extra])


def cache_events(caplog: pytest.LogCaptureFixture, what: str) -> list[str]:
    """'hit' or 'miss' for each cache lookup of `what`, in order."""
    return [r.getMessage().split(" cache ")[1].split(":")[0] for r in caplog.records if r.getMessage().startswith(what)]


def test_a_job_does_not_check_again_the_files_the_preflight_checked(tmp_path: Path, monkeypatch):
    root = make_biosses_like(tmp_path / "data")
    cfg = config(root, tmp_path / "cache")
    checked: list[int] = []
    monkeypatch.setattr(train, "check_splits", lambda task_type, splits: checked.append(len(splits["train"])))
    train.prepare(cfg)
    assert checked == [24]  # no record: the job checks what it read
    assert check_task_data_once(cfg)  # the preflight checks the files and records that they passed
    train.prepare(cfg)
    assert checked == [24]  # the same files: not checked again
    with (root / "biosses" / "train.jsonl").open("a") as handle:  # an edited file is checked again
        handle.write(json.dumps({"id": "new", "sentence1": "a b", "sentence2": "b c", "label": 1.0}) + "\n")
    train.prepare(cfg)
    assert checked == [24, 25]


def test_trivial_scores_are_computed_once_per_data(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    root = make_biosses_like(tmp_path / "data")
    cfg = config(root, tmp_path / "cache")
    task_type, splits = get_task_type(cfg.task), load_splits(cfg)
    expected = {f"trivial_{s}_score": task_type.trivial_score(splits["train"], splits[s]) for s in ("dev", "test")}
    with caplog.at_level(logging.INFO, logger="blurb_lab.cache"):
        first = trivial_scores(task_type, splits, str(tmp_path / "cache"))
        again = trivial_scores(task_type, splits, str(tmp_path / "cache"))
        splits["train"] = splits["train"][:-1]  # other data: computed again
        trivial_scores(task_type, splits, str(tmp_path / "cache"))
    assert cache_events(caplog, "trivial predictor") == ["miss", "hit", "miss"]
    assert first == again == expected


def test_the_cosine_head_start_is_computed_once_per_starting_weights(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """Seeds that start from the same weights share the start; other weights (another seed_init of a
    random encoder) get their own. The cached start is the computed one, to the last bit."""
    root = make_biosses_like(tmp_path / "data")
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="blurb_lab.cache"):
        first = train.prepare(config(root, cache, "seed_init=1", "seed_data=1"))
        same_start = train.prepare(config(root, cache, "seed_init=1", "seed_data=2"))
        other_start = train.prepare(config(root, cache, "seed_init=2", "seed_data=1"))
    assert cache_events(caplog, "cosine head start") == ["miss", "hit", "miss"]
    head, again, other = (p.module.head.out for p in (first, same_start, other_start))
    assert torch.equal(head.weight, again.weight) and torch.equal(head.bias, again.bias)
    assert not torch.equal(head.weight, other.weight)
    assert first.task_type.describe()["pair_head"] == same_start.task_type.describe()["pair_head"]


def test_the_training_stack_is_imported_without_full_collections_and_then_frozen():
    code = (
        "import gc, sys\n"
        "from blurb_lab.startup import import_training_stack\n"
        "full = []\n"
        "def seen(phase, info):\n"
        "    if phase == 'start' and info['generation'] == 2:\n"
        "        full.append(1)\n"
        "gc.callbacks.append(seen)\n"
        "import_training_stack()\n"
        "print(all(m in sys.modules for m in ('torch', 'pytorch_lightning', 'transformers')), len(full),"
        " gc.get_freeze_count() > 100000, gc.isenabled())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    imported, full_collections, frozen, enabled = proc.stdout.split()
    assert imported == "True" and frozen == "True" and enabled == "True"
    assert int(full_collections) == 1  # the one collect() before the imports, none during them
