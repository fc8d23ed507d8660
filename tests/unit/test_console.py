"""The launching process's console, fed the events its jobs write (blurb_lab/console.py); the real CLI
sweep is tests/e2e/test_console_cli.py."""

from __future__ import annotations

import os

import pytest

from blurb_lab import console


def test_a_warning_of_every_job_is_printed_once_and_a_pipe_gets_plain_progress_lines(capsys, monkeypatch):
    monkeypatch.delenv(console.VERBOSE_ENV, raising=False)
    sweep = console.SweepConsole()
    with sweep.batch(3, 2, "sweep dir x"):
        for num, status in enumerate(("ok", "crashed")):
            job = console.JobConsole(label="tiny_bert/biosses/standard", seed=num + 1, num=num, job_dir=f"/s/{num}")
            job.started("slot 0 of 2: 1 thread of 2 cores, CPU")
            job.warned(f"W&B online unavailable (no network); logging offline to /s/{num}/wandb\n  (upload later)")
            error = "ValueError: bad\nTraceback" if status == "crashed" else None
            job.ended({"status": status, "metric": "pearson", "dev_score": 0.5, "test_score": None, "error": error})
        console.JobConsole(label="tiny_bert/biosses/standard", seed=3, num=2).skipped({"status": "ok"})
    out = capsys.readouterr().out
    assert out.count("warning (job 0): W&B online unavailable (no network); logging offline to <job dir>/wandb") == 1
    assert "warning (job 1)" not in out  # the same warning, once per sweep
    assert "job 0 ok       tiny_bert/biosses/standard seed 1 | dev pearson 0.5000, test pearson n/a | 0s" in out
    assert "job 1 crashed  tiny_bert/biosses/standard seed 2 | ValueError: bad | 0s" in out
    assert "job 2 skipped  tiny_bert/biosses/standard seed 3 | already finished (status ok), not run again" in out
    assert "[1/3 done, 0 failed, ETA 0s]\n" in out and "[2/3 done, 1 failed, ETA 0s]\n" in out
    assert "[3/3 done, 1 failed, " in out and "\r" not in out and "\x1b" not in out
    assert console.EVENTS_ENV not in os.environ  # only while a batch runs


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0s"), (59, "59s"), (130, "2m10s"), (3900, "1h05m")])
def test_durations_are_short(seconds, text):
    assert console.duration(seconds) == text


def test_the_eta_counts_rounds_of_jobs_at_once():
    progress = console.Progress(total=10, done=2, at_once=2, walls=[60.0, 60.0])
    assert progress.line() == "[2/10 done, 0 failed, ETA 4m00s]"  # 8 jobs left, 2 at a time, 1 minute each
