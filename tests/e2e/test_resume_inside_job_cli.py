"""A job killed outright (SIGKILL) after its 2nd of 4 epochs continues from its 3rd with resume=true,
and ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import make_biosses_like, run_cli

ARGS = [
    "model=tiny_bert",
    "trainer.max_epochs=4",
    "trainer.checkpoint_interval_s=0",
    "data.batch_size=8",
    "trainer.enable_progress_bar=false",
]


def _kill_after_epochs(cwd: Path, args: list[str], epochs: int, checkpoint: Path) -> None:
    """Start the job, SIGKILL it as soon as its checkpoint holds `epochs` completed epochs."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "blurb_lab", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    seen: set[int] = set()
    deadline = time.time() + 300
    while len(seen) < epochs and proc.poll() is None and time.time() < deadline:
        try:
            seen.add(checkpoint.stat().st_ino)  # each epoch's checkpoint is a new file, renamed into place
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_sigkill_after_epoch_2_then_resume_continues_at_epoch_3_and_equals_an_uninterrupted_run(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data", sizes=(400, 16, 16))  # 50 steps an epoch: time to kill in
    whole = run_cli(*ARGS, f"data.root={data}", "hydra.run.dir=whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert not (tmp_path / "whole" / "resume.ckpt").exists()  # removed once the job has its results

    killed = [*ARGS, f"data.root={data}", "hydra.run.dir=killed"]
    _kill_after_epochs(tmp_path, killed, 2, tmp_path / "killed" / "resume.ckpt")
    saved = torch.load(tmp_path / "killed" / "resume.ckpt", weights_only=False)
    # 0-based: 2 epochs done (3 when the kill came late, on a loaded machine); the job had not ended
    done = saved["epoch"] + 1
    assert done in (2, 3) and not (tmp_path / "killed" / "results.json").exists()
    resumed = run_cli(*killed, "resume=true", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resume: continuing after epoch {done}" in (tmp_path / "killed" / "blurb_lab.log").read_text()

    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("whole", "killed"))
    for key in ("dev_curve", "train_loss_curve", "dev_score", "test_score", "best_epoch", "epochs", "status"):
        assert a[key] == b[key], key
    assert (tmp_path / "whole" / "predictions_test.jsonl").read_text() == (
        tmp_path / "killed" / "predictions_test.jsonl"
    ).read_text()
    assert not (tmp_path / "killed" / "resume.ckpt").exists()
