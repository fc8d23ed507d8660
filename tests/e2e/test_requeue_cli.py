"""The time-limit / preemption signal (SIGUSR2, submitit's) sent to a running job: it is requeued,
comes back with resume=true and continues from its last completed epoch (submitit's local executor,
the SLURM launcher's code path on one machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import make_biosses_like, run_cli
from tests.e2e.test_resume_inside_job_cli import ARGS  # 4 epochs, a checkpoint at each epoch end


def _task_process(root: int) -> psutil.Process | None:
    """The submitit task running the job, below the sweep's process."""
    for child in psutil.Process(root).children(recursive=True):
        if "submitit.core._submit" in " ".join(child.cmdline()):
            return child
    return None


@pytest.mark.slow  # two sweeps through submitit's local executor
def test_the_requeue_signal_requeues_the_job_which_resumes_and_ends_as_an_uninterrupted_run(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data", sizes=(400, 16, 16))
    whole = run_cli(*ARGS, f"data.root={data}", "hydra.sweep.dir=whole", "-m", "seed=1", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]

    args = [*ARGS, f"data.root={data}", "hydra/launcher=submitit_local_jobs", "hydra.sweep.dir=sub", "-m", "seed=1"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    sweep = subprocess.Popen([sys.executable, "-m", "blurb_lab", *args], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    checkpoint, deadline = tmp_path / "sub" / "0" / "resume.ckpt", time.time() + 300
    while not checkpoint.exists() and sweep.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    task = _task_process(sweep.pid)
    assert task is not None and checkpoint.exists(), "the job wrote no checkpoint before the signal"
    task.send_signal(signal.SIGUSR2)
    _, stderr = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, stderr[-2000:]

    log = (tmp_path / "sub" / "0" / "blurb_lab.log").read_text()
    assert "resume: continuing after epoch" in log  # the requeued job continued, it did not start over
    a, b = (json.loads((tmp_path / d / "0" / "results.json").read_text()) for d in ("whole", "sub"))
    for key in ("dev_curve", "train_loss_curve", "dev_score", "test_score", "status"):
        assert a[key] == b[key], key
    assert not checkpoint.exists()
