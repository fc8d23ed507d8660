"""Under torchrun every rank runs the whole command line: one job still gets one run dir (rank 0's).

The default run dir ends in `${now:%H-%M-%S-%f}`, so two ranks that resolved it themselves would
name two dirs with certainty (they never start in the same microsecond)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_biosses_like


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc-per-node 2 -m blurb_lab <args>` (2 gloo ranks on CPU)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "blurb_lab", "model=tiny_bert", "trainer=ddp_cpu", "trainer.max_epochs=1",
               "trainer.enable_progress_bar=false", "data.root=data", *args]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_two_torchrun_ranks_share_one_run_dir(tmp_path: Path) -> None:
    make_biosses_like(tmp_path / "data", sizes=(8, 4, 4))
    proc = torchrun(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dirs = list((tmp_path / "multirun_outputs" / "runs").glob("*/*"))
    assert len(run_dirs) == 1, run_dirs
    assert [p.parent for p in tmp_path.rglob("results.json")] == run_dirs
    assert (run_dirs[0] / "predictions_test.jsonl").is_file()  # rank 0's files, in that same dir


@pytest.mark.slow  # a two-job sweep under torchrun: make test-slow
def test_a_sweep_under_torchrun_has_one_sweep_dir_and_one_summary(tmp_path: Path) -> None:
    make_biosses_like(tmp_path / "data", sizes=(8, 4, 4))
    proc = torchrun("-m", "seed=1,2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweeps = [p for p in (tmp_path / "multirun_outputs").glob("*/*") if p.parent.name != "runs"]
    assert len(sweeps) == 1, sweeps
    assert sorted(p.parent.name for p in tmp_path.rglob("results.json")) == ["0", "1"]
    assert [p.parent for p in tmp_path.rglob("summary.md")] == sweeps
    assert proc.stdout.count("Summary over seeds") == 1  # rank 1 runs no summary callback
