"""Learning gates: with the default recipe, a tiny model must beat the trivial predictor on test by
a fixed margin on small synthetic tasks whose labels carry a learnable signal; MiniLM's slow gates
must also beat what the same model scores untrained. Every gate fails when nothing is trained
(lr 1e-12; measured in docs/findings.md, "Does it learn?"), so a recipe or head that learns nothing cannot
pass unseen."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from tests.conftest import SHARED_BLURB, needs_shared_blurb, run_cli

LEARNED = 0.01  # MiniLM gates: the fine-tuned mean must beat what the same model scores untrained by this


# --- MiniLM on real BLURB data (make test-slow) --------------------------------------------------


def _sweep(tmp_path: Path, *args: str) -> list[dict]:
    proc = run_cli("model=minilm", "trainer.enable_progress_bar=false", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   *args, cwd=tmp_path, timeout=1800)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [
        {**json.loads(p.read_text()), "_dir": p.parent} for p in sorted((tmp_path / "sweep").glob("*/results.json"))
    ]


@pytest.mark.slow
@needs_shared_blurb("biosses")
def test_minilm_biosses_bi_encoder_beats_zero_shot_level(tmp_path: Path) -> None:
    runs = _sweep(tmp_path, "task=biosses", "strategy=standard", "task.pair_encoding=bi", "-m", "seed=1,2,3")
    assert len(runs) == 3 and statistics.fmean(r["test_score"] for r in runs) >= 0.80, runs
    # Untrained (lr 1e-12), the bi-encoder scores its zero-shot cosine (0.847): fine-tuning must add to it.
    assert statistics.fmean(r["test_score"] for r in runs) >= runs[0]["zero_shot_test_score"] + LEARNED, runs


@pytest.mark.slow
@needs_shared_blurb("biosses")
def test_minilm_biosses_cross_encoder_predictions_cover_the_label_scale(tmp_path: Path) -> None:
    runs = _sweep(tmp_path, "task=biosses", "strategy=standard", "-m", "seed=1,2,3")
    gold = [json.loads(line)["label"] for line in (SHARED_BLURB / "biosses" / "test.jsonl").read_text().splitlines()]
    assert len(runs) == 3 and all(r["pair_head"]["mode"] == "cosine" for r in runs), runs  # MiniLM's default head
    pooled = []
    for run in runs:
        lines = (run["_dir"] / "predictions_test.jsonl").read_text().splitlines()
        predictions = [json.loads(line)["prediction"] for line in lines]
        assert statistics.pstdev(predictions) >= 0.3, run["seed"]  # not collapsed to a constant
        pooled += predictions
    # The 3 seeds' predictions sit on the label scale, as the bi gate's "3 seeds" is their mean. Measured
    # (docs/findings.md): 0.490 above the gold test mean (1.94); per seed 0.524, 0.503, 0.445: fine-tuning on 64
    # pairs pulls unseen pairs toward the train mean (2.40), from the fitted start's 2.05.
    assert abs(statistics.fmean(pooled) - statistics.fmean(gold)) <= 0.5, statistics.fmean(pooled)
    # Untrained (lr 1e-12), the head is its train-fitted start (pair_head.start_test_score, 0.790): beat it.
    start = statistics.fmean(r["pair_head"]["start_test_score"] for r in runs)
    assert statistics.fmean(r["test_score"] for r in runs) >= start + LEARNED, runs


@pytest.mark.slow
@needs_shared_blurb("ncbi_disease")
def test_minilm_ncbi_1000_sentences_one_epoch_finds_entities(tmp_path: Path) -> None:
    (run,) = _sweep(
        tmp_path, "task=ncbi_disease", "data.limit_train_examples=1000", "trainer.max_epochs=1", "-m", "seed=1"
    )
    assert run["test_score"] >= 0.5, run


@pytest.mark.slow
@needs_shared_blurb("gad")
def test_minilm_gad_3000_examples_one_epoch_beats_trivial(tmp_path: Path) -> None:
    # Three seeds, as the recipe was chosen: one seed's F1 on a 1-epoch budget is noise of about
    # +-0.03 around a trivial score of 0.690 (measured at lr 1e-4: 0.682, 0.741, 0.750).
    runs = _sweep(tmp_path, "task=gad", "data.limit_train_examples=3000", "trainer.max_epochs=1", "-m", "seed=1,2,3")
    assert len(runs) == 3 and all(r["recipe"] and "minilm_cls_recipe" in r["recipe"] for r in runs), runs
    assert statistics.fmean(r["test_score"] for r in runs) > runs[0]["trivial_test_score"], runs
