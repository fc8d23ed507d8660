"""Sweeps that survive a bad job, GPU requests checked against the machine, statuses and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from hydra_plugins.blurb_optuna_sweeper.reporting import job_env
from tests.conftest import make_biosses_like, run_cli, write_jsonl
from tests.unit.test_sweeps import CLASHING

TINY = ["model=tiny_bert", "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "data.batch_size=8"]
# tiny_bert has 2 blocks: freezing 2 and re-initialising 1 overlap, though each value alone is fine.
SMALL = (16, 4, 4)  # train, dev, test pairs: each job trains in a second or two
# Hydra's sequential launcher where a test is about crashes and resume, not the launcher: jobs this
# small would spend most of their time starting hydra/launcher=auto's worker processes (about 10 s),
# and the kill test needs its jobs in order. The default launcher: tests/test_auto_launcher.py.
SEQUENTIAL = "hydra/launcher=basic"


def results(sweep: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))}


def stamps(sweep: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep.glob("*/results.json")}


# --- item 3: GPUs asked for against the GPUs the machine has (GPU count patched) ---------------------


# --- item 4: preflight checks combinations; a job that still fails is recorded and the sweep goes on ---


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_a_job_that_fails_validation_crashes_alone_and_resume_reruns_only_it(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data", SMALL)
    env = {"BLURB_LAB_PREFLIGHT_COMBINATIONS": "1"}  # past the cap: the clashing combination reaches its job
    args = [*TINY, SEQUENTIAL, f"data.root={data}", "hydra.sweep.dir=sweep", "-m", *CLASHING]
    proc = run_cli(*args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]  # not every job crashed
    by_job = results(tmp_path / "sweep")
    assert sorted(by_job) == ["0", "1", "2", "3"]  # every other job ran
    crashed = by_job.pop("3")
    assert crashed["status"] == "crashed" and "config error: strategy.reinit_top_layers" in crashed["error"]
    assert crashed["provenance"]["source"] == "checkout"  # a crash record is traceable to its code too
    assert all(r["status"] in ("ok", "failed") for r in by_job.values())
    rows = json.loads((tmp_path / "sweep" / "summary.json").read_text())["configurations"]
    (bad,) = [r for r in rows if r["config_key"] == crashed["config_key"]]
    assert (bad["n"], bad["n_crashed"], bad["test"]["mean"]) == (0, 1, None)

    before = stamps(tmp_path / "sweep")
    again = run_cli(*args, "resume=true", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    after = stamps(tmp_path / "sweep")
    assert [job for job in before if after[job] != before[job]] == ["3"]  # only the crashed job ran again


def test_a_sweep_where_every_job_crashed_exits_non_zero(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data", SMALL)
    proc = run_cli(*TINY, SEQUENTIAL, f"data.root={data}", "data.cache_dir=/dev/null/cache", "hydra.sweep.dir=sweep",
                   "-m", "seed=1,2", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1
    assert "blurb-lab: every job of the sweep crashed (2; first: NotADirectoryError" in proc.stderr
    assert [r["status"] for r in results(tmp_path / "sweep").values()] == ["crashed", "crashed"]


# --- item 6: pruned jobs, and resume that reruns only what did not run to its end -------------------


def test_a_pruned_job_records_its_epoch_skips_test_and_stays_out_of_the_statistics(tmp_path: Path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    trial = study.ask()
    trial.set_user_attr("pruned_at_step", 0)  # the trial's first seed was pruned: the others stop too
    env = job_env(storage, "s", trial.number, 1)  # what the sweeper hands the trial's second seed
    data = make_biosses_like(tmp_path / "data", SMALL)
    proc = run_cli(*TINY, "trainer.max_epochs=3", f"data.root={data}", "hydra.sweep.dir=sweep", "-m", "seed=1",
                   cwd=tmp_path, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = results(tmp_path / "sweep")["0"]
    assert (job["status"], job["pruned_at_epoch"], job["epochs"], job["test_score"]) == ("pruned", 0, 1, None)
    assert len(job["dev_curve"]) == 1 and not (tmp_path / "sweep" / "0" / "predictions_test.jsonl").exists()
    (row,) = json.loads((tmp_path / "sweep" / "summary.json").read_text())["configurations"]
    assert (row["n"], row["n_failed"], row["n_pruned"], row["dev"]["mean"]) == (0, 0, 1, None)


def constant_dev_labels(root: Path) -> Path:
    """BIOSSES-like data whose dev labels are all equal: Pearson is undefined, every run `failed`."""
    make_biosses_like(root, SMALL)
    dev = [json.loads(line) for line in (root / "biosses" / "dev.jsonl").read_text().splitlines()]
    write_jsonl(root / "biosses" / "dev.jsonl", [{**r, "label": 2.0} for r in dev])
    return root


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_kill_then_resume_skips_a_finished_failed_job_and_refuses_another_configuration(tmp_path: Path):
    data = constant_dev_labels(tmp_path / "data")

    def command(*extra: str) -> list[str]:
        return [sys.executable, "-m", "blurb_lab", *TINY, SEQUENTIAL, f"data.root={data}", "hydra.sweep.dir=sweep",
                *extra, "-m", "seed=1,2"]  # fmt: skip

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(command(), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while not list((tmp_path / "sweep").glob("*/results.json")) and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = stamps(tmp_path / "sweep")
    assert list(finished) == ["0"], finished
    assert all(r["status"] == "failed" for r in results(tmp_path / "sweep").values())

    resumed = subprocess.run(command("resume=true"), cwd=tmp_path, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = stamps(tmp_path / "sweep")
    assert sorted(after) == ["0", "1"]
    assert all(after[job] == mtime for job, mtime in finished.items())  # the finished `failed` jobs did not run again
    assert "already finished (status failed), not run again" in resumed.stdout + resumed.stderr
    (row,) = json.loads((tmp_path / "sweep" / "summary.json").read_text())["configurations"]
    assert (row["n"], row["n_failed"], row["n_crashed"]) == (2, 2, 0)

    # Another learning rate in the same sweep dir: one line, nothing runs, nothing is rewritten.
    other = subprocess.run(command("optim.lr=3e-3", "resume=true"), cwd=tmp_path, env=env, capture_output=True,
                           text=True)  # fmt: skip
    assert other.returncode == 2 and other.stderr.strip().count("\n") == 0, other.stderr
    line = "blurb-lab: resume: sweep: job 0 finished with another configuration: optim.lr is 0.001 there, 0.003 now"
    assert other.stderr.startswith(line), other.stderr
    assert stamps(tmp_path / "sweep") == after
