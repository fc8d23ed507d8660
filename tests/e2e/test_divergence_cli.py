"""A non-finite loss on one DDP rank stops every rank in the same step (gloo on CPU)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, make_biosses_like, run_cli
from tests.faults import FAULT_RANK, FAULT_STEP


def test_a_nan_loss_on_rank_1_only_stops_both_ranks_without_a_hang(tmp_path: Path) -> None:
    data = make_biosses_like(tmp_path / "data", sizes=(32, 8, 8))
    env = {"BLURB_LAB_CALLBACKS": "tests.faults:nan_on_one_rank", FAULT_RANK: "1", FAULT_STEP: "2",
           "PYTHONPATH": str(REPO)}  # fmt: skip
    # Without one decision for all ranks, rank 0 waits in the gradient all-reduce for a rank that
    # skipped its backward: gloo's 30-minute timeout, cut here by the hard timeout.
    proc = run_cli("model=tiny_bert", "trainer=ddp_cpu", "trainer.max_epochs=4", "data.batch_size=8",
                   "trainer.enable_progress_bar=false", f"data.root={data}", "hydra.run.dir=run",
                   cwd=tmp_path, env=env, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == "diverged" and results["diverged_at_step"] == 2
    assert results["epochs"] < 4  # both ranks stopped there, not at the end
