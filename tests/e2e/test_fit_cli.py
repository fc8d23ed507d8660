"""Training parts a result depends on: the learning-rate schedule, the best-dev weights that are tested,
and the checkpoint of those weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import make_biosses_like, run_cli

# --- the schedule -----------------------------------------------------------------------------------


# --- the best dev epoch's weights -------------------------------------------------------------------


# --- trainer.save_checkpoint ------------------------------------------------------------------------


def test_save_checkpoint_writes_the_tested_weights(tmp_path: Path):
    """best.safetensors loads into the job's model, and those weights give the job's dev score and
    exactly its test predictions: the checkpoint holds the best dev epoch's weights, the ones tested."""
    from pytorch_lightning import Trainer
    from safetensors.torch import load_file

    from blurb_lab.train import prepare

    data = make_biosses_like(tmp_path / "data")
    proc = run_cli("task=biosses", "model=tiny_bert", "trainer.max_epochs=3", "trainer.enable_progress_bar=false",
                   "data.batch_size=8", f"data.root={data}", "trainer.save_checkpoint=true", "hydra.run.dir=run",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    state = load_file(str(run / "best.safetensors"))

    prepared = prepare(OmegaConf.create(results["hparams"]))
    module = prepared.module
    assert set(state) == set(module.state_dict())
    module.load_state_dict(state)  # strict: every tensor, the right shapes
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    dev = trainer.validate(module, datamodule=prepared.datamodule, verbose=False)[0]["dev/pearson"]
    assert dev == pytest.approx(results["dev_score"], abs=1e-6)
    assert results["dev_score"] == max(results["dev_curve"])
    assert 0 < results["val_time_s"] < results["fit_time_s"]  # the 3 dev passes are timed inside fit
    assert results["eval_time_s"] == pytest.approx(results["val_time_s"] + results["test_time_s"], abs=2e-3)
    assert results["best_epoch"] == results["dev_curve"].index(results["dev_score"])
    test = trainer.test(module, datamodule=prepared.datamodule, verbose=False)[0]["test/pearson"]
    assert test == pytest.approx(results["test_score"], abs=1e-6)
    written = [json.loads(line)["prediction"] for line in (run / "predictions_test.jsonl").read_text().splitlines()]
    assert written == pytest.approx(module.test_predictions, abs=1e-6)
