"""DDP on CPU (gloo): exact evaluation under DistributedSampler padding, and DDP inside a multirun."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_task_fixtures, run_cli


@pytest.mark.slow  # a real multi-job sweep: make test-slow (make test stays under 10 minutes)
def test_ddp_inside_a_multirun_gives_one_job_dir_per_seed(tmp_path: Path):
    data = make_task_fixtures(tmp_path / "data", n=(8, 4, 4))
    proc = run_cli("task=biosses", "model=tiny_bert", "trainer=ddp_cpu", "trainer.max_epochs=1",
                   "trainer.enable_progress_bar=false", f"data.root={data}", "hydra.sweep.dir=sweep", "-m", "seed=1,2",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir()) == ["0", "1"]
    assert len(list((tmp_path / "sweep").glob("*/results.json"))) == 2
    assert len(list(tmp_path.glob("**/multirun.yaml"))) == 1  # no nested sweep
    assert len((tmp_path / "sweep" / "0" / "predictions_test.jsonl").read_text().splitlines()) == 4
