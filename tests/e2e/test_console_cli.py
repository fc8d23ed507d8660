"""What a person sees of a sweep: one line per job start and end, a progress line, each job's own log
(Lightning's lines, the optimizer table) in its job dir only; plain text when stdout is no terminal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import make_biosses_like, run_cli

TINY = ["model=tiny_bert", "trainer.max_epochs=1", "data.batch_size=8"]
LABEL = r"tiny_bert/biosses/standard data\.batch_size=8 trainer\.max_epochs=1 seed (\d)"


@pytest.mark.parametrize(
    "launcher",
    [
        # The default launcher's one-at-a-time path (Hydra's basic launcher, in the sweep's process),
        # which its rule takes for jobs this short.
        [],
        # Its jobs at once, in worker processes: over 20 s here, most of it starting the workers.
        pytest.param(["hydra.launcher.min_flops=0"], marks=pytest.mark.slow),
    ],
    ids=["one-at-a-time", "at-once"],
)
def test_a_sweep_shows_job_lines_and_progress_and_keeps_the_job_logs_in_their_dirs(tmp_path: Path, launcher):
    """Three jobs through the default launcher (hydra/launcher=auto), stdout a pipe."""
    data = make_biosses_like(tmp_path / "data", (16, 4, 4))
    proc = run_cli(*TINY, f"data.root={data}", "hydra.sweep.dir=sweep", *launcher, "-m", "seed=1,2,3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    starts = re.findall(rf"^job (\d) start +{LABEL} \| .*\d+ threads? of \d+ cores, CPU$", proc.stdout, re.M)
    ends = re.findall(
        rf"^job (\d) (?:ok|failed) +{LABEL} \| dev pearson \S+, test pearson \S+ \| \d", proc.stdout, re.M
    )
    assert sorted(starts) == sorted(ends) == [("0", "1"), ("1", "2"), ("2", "3")], proc.stdout
    assert re.search(r"^\[3/3 done, \d failed, \S+\]$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^\[1/3 done, \d failed, ETA \S+\]$", proc.stdout, re.M), proc.stdout
    if launcher and (os.cpu_count() or 1) > 1:  # jobs at once: each names the slot it ran in
        assert len(re.findall(r"^job \d start .* \| slot \d of [2-9]: ", proc.stdout, re.M)) == 3, proc.stdout
    if not launcher and (os.cpu_count() or 1) > 1:  # too short to pay for worker start-up
        assert re.search(r"launcher auto: 3 jobs, one after another x \d+ threads .*short jobs: ~\S+ training", out)
    assert "GPU available" not in out and "Loading `train_dataloader`" not in out  # Lightning's INFO lines
    assert "embeddings/decay" not in out and "trainable params" not in out  # the optimizer-group table
    assert "\x1b" not in out and "\r" not in out  # no bar, no colour: a pipe gets plain lines
    assert "Summary over seeds" in proc.stdout  # the end-of-sweep tables are still printed
    for job in ("0", "1", "2"):
        log = (tmp_path / "sweep" / job / "blurb_lab.log").read_text()
        assert "GPU available: False" in log and "embeddings/decay" in log, log
