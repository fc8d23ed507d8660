"""The blurb_optuna Hydra sweeper: real sweeps of tiny_bert on a small BIOSSES-format set, no mocks."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.conftest import run_cli
from tests.unit.test_optuna_sweeper import load

optuna.logging.set_verbosity(optuna.logging.WARNING)
FAST = ["task=biosses", "model=tiny_bert", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]


def check(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


# ----------------------------------------------------------------------------- pure pieces


# ----------------------------------------------------------------------------- real sweeps


@pytest.mark.slow  # a real multi-job sweep: make test-slow (make test stays under 10 minutes)
def test_lr_decay_preset_three_trials_two_seeds(tmp_path: Path, data_root: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = run_cli(*FAST, "hparams_search=lr_decay", "hydra.sweeper.n_trials=3", "hydra.sweeper.seeds=[1,2]",
                   f"data.root={data_root}", f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # fmt: skip
    check(proc)
    trials = load(sweep, "lr_decay").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    for t in trials:
        assert t.user_attrs["seeds"] == [1, 2]
        assert len(t.user_attrs["scores"]) == 2 and None not in t.user_attrs["scores"]
        assert t.value == pytest.approx(statistics.fmean(t.user_attrs["scores"]))
        assert t.user_attrs["score_std"] == pytest.approx(statistics.stdev(t.user_attrs["scores"]))
        assert t.user_attrs["n_failed_runs"] == 0
        assert set(t.params) == {"optim.lr", "strategy.layer_decay"}  # the seed is no search dimension
        assert 1e-6 <= t.params["optim.lr"] <= 1e-4 and 0.5 <= t.params["strategy.layer_decay"] <= 1.0
    jobs = sorted(p.parent.name for p in sweep.glob("*/results.json"))
    assert jobs == [str(i) for i in range(6)]
    job = json.loads((sweep / "3" / "results.json").read_text())
    assert job["seed"] == 2 and job["hparams"]["optim"]["lr"] == pytest.approx(trials[1].params["optim.lr"])
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    best = max(trials, key=lambda t: t.value)
    assert result["best_params"] == best.params and result["best_value"] == pytest.approx(best.value)
    assert result["best_scores"] == {"1": best.user_attrs["scores"][0], "2": best.user_attrs["scores"][1]}
    # Expected best value among n trials: n=1 is the mean trial value, n=N the best one.
    values = [t.value for t in trials]
    assert result["evp"]["unbiased"][0] == pytest.approx(statistics.fmean(values))
    assert result["evp"]["unbiased"][-1] == pytest.approx(max(values)) and len(result["evp"]["n"]) == 3
    assert (sweep / "evp_trials.png").stat().st_size > 10_000


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_diverged_trial_fails_and_the_sweep_goes_on(tmp_path: Path, data_root: Path) -> None:
    """lr=1e6 diverges (NaN loss); the grid runs both values; a command-line seed list is the seeds."""
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", *FAST, "hydra/sweeper=blurb_optuna", "hydra/sweeper/sampler=grid", "optim.lr=1e6,1e-5",
                   "seed=3,4", "hydra.sweeper.n_trials=2", "hydra.sweeper.max_failure_rate=0.5",
                   f"data.root={data_root}", f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # fmt: skip
    check(proc)
    trials = {t.params["optim.lr"]: t for t in load(sweep, "blurb_lab").trials}
    assert set(trials) == {1e6, 1e-5}
    bad, good = trials[1e6], trials[1e-5]
    assert bad.state == TrialState.FAIL and bad.user_attrs["n_failed_runs"] == 2
    assert "diverged" in bad.user_attrs["fail_reason"] and bad.user_attrs["scores"] == [None, None]
    assert good.state == TrialState.COMPLETE and good.user_attrs["seeds"] == [3, 4]
    assert all(set(t.params) == {"optim.lr"} for t in trials.values())
    for job_dir in bad.user_attrs["job_dirs"]:
        assert json.loads((Path(job_dir) / "results.json").read_text())["status"] == "diverged"


def test_max_failure_rate_stops_the_sweep_with_a_message(tmp_path: Path, data_root: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", *FAST, "hydra/sweeper=blurb_optuna", "optim.lr=choice(1e6)", "hydra.sweeper.seeds=[1]",
                   "hydra.sweeper.n_trials=3", "hydra.sweeper.max_failure_rate=0",
                   f"data.root={data_root}", f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode != 0
    assert "1 of 3 trials failed, more than max_failure_rate=0.0" in proc.stderr
    assert [t.state for t in load(sweep, "blurb_lab").trials] == [TrialState.FAIL]
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text())["n_trials"] == {"FAIL": 1}


@pytest.mark.slow  # minutes of real sweeps: make test-slow (make test stays under 10 minutes)
def test_sigkill_then_rerun_resumes_the_study(tmp_path: Path, data_root: Path) -> None:
    """Killed once a trial is done, the same command finishes the study: n_trials finished, none rerun."""
    sweep = tmp_path / "sweep"
    args = [*FAST, "hparams_search=lr_decay", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.seeds=[1,2]", f"data.root={data_root}", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "blurb_lab", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                if any(t.state == TrialState.COMPLETE for t in load(sweep, "lr_decay").trials):
                    break
            except Exception:  # no study or table yet
                pass
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = {t.number: t for t in load(sweep, "lr_decay").trials}
    done = {n: t for n, t in before.items() if t.state == TrialState.COMPLETE}
    assert done and len(done) < 4, "the kill should land mid-sweep"
    stamps = {d: (sweep / d / "results.json").stat().st_mtime_ns for n in done for d in (str(2 * n), str(2 * n + 1))}

    check(run_cli(*args, cwd=tmp_path))
    trials = load(sweep, "lr_decay").trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    for n, t in done.items():  # finished before the kill: same value, same job files
        assert trials[n].value == t.value and "resumed" not in trials[n].user_attrs
    assert stamps == {d: (sweep / d / "results.json").stat().st_mtime_ns for d in stamps}
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 4  # the resumed sampler draws anew
    assert sorted(p.parent.name for p in sweep.glob("*/results.json")) == [str(i) for i in range(8)]
    for t in trials:
        assert t.value == pytest.approx(statistics.fmean(t.user_attrs["scores"]))


@pytest.mark.slow
def test_pruner_stops_bad_trials_early(tmp_path: Path, data_root: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", *FAST[:2], "trainer.max_epochs=4", "trainer.enable_progress_bar=false",
                   "hydra/sweeper=blurb_optuna", "hydra/sweeper/pruner=median",
                   "hydra.sweeper.pruner.n_startup_trials=2",
                   "hydra.sweeper.sampler.seed=0", 'hydra.sweeper.params={optim.lr:"tag(log, interval(1e-6, 1e-2))"}',
                   "hydra.sweeper.seeds=[1,2]", "hydra.sweeper.n_trials=8", "hydra.sweeper.max_failure_rate=1",
                   f"data.root={data_root}", f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # fmt: skip
    check(proc)
    pruned = [t for t in load(sweep, "blurb_lab").trials if t.state == TrialState.PRUNED]
    assert pruned
    for t in pruned:
        assert "pruned_at_step" in t.user_attrs
        for job_dir in t.user_attrs["job_dirs"]:
            assert json.loads((Path(job_dir) / "results.json").read_text())["epochs"] < 4
