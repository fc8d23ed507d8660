"""data.batch_size is the global batch: one process, gloo DDP ranks and gradient accumulation compute
the same steps, and land in one configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.unit.test_learning import make_signal_tasks

# float32 sums taken in another order (two half-batch gradients all-reduced, or accumulated, against
# one full-batch gradient; batches padded to other lengths) differ by ~1e-7 relative per operation;
# a few AdamW steps on tiny_bert keep that far below 1e-4.
TOLERANCE = 1e-4


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_one_process_ddp_ranks_and_accumulation_train_alike_and_share_one_summary_row(tmp_path: Path) -> None:
    data = make_signal_tasks(tmp_path / "data")  # learnable, so dev scores are far from noise
    proc = run_cli("model=tiny_bert", "model.dropout=0", "data.batch_size=16", "trainer.max_epochs=3",
                   "trainer.enable_progress_bar=false", f"data.root={data}", "hydra.sweep.dir=sweep",
                   "-m", "trainer=cpu,ddp_cpu", "trainer.accumulate_grad_batches=1,2", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep").glob("*/results.json"))]
    assert len(runs) == 4 and all(r["status"] == "ok" for r in runs)
    single = runs[0]  # trainer=cpu, no accumulation: one process at batch 16
    trainer = single["hparams"]["trainer"]
    assert trainer["devices"] == 1 and trainer["accumulate_grad_batches"] == 1
    for other in runs[1:]:  # 1 x 2 x 8, 2 ranks x 1 x 8, 2 ranks x 2 x 4
        assert other["train_loss_curve"] == pytest.approx(single["train_loss_curve"], abs=TOLERANCE)
        assert other["dev_curve"] == pytest.approx(single["dev_curve"], abs=TOLERANCE)
        assert other["config_key"] == single["config_key"]
    rows = json.loads((tmp_path / "sweep" / "summary.json").read_text())["configurations"]
    assert len(rows) == 1 and rows[0]["n"] == 4


def test_a_batch_that_does_not_split_is_one_line_naming_the_keys(tmp_path: Path) -> None:
    proc = run_cli("model=tiny_bert", "trainer=ddp_cpu", "data.batch_size=15", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "data.batch_size: 15 does not split evenly over trainer.devices x trainer.num_nodes" in proc.stderr
