"""Sweeps on existing Hydra launchers: K jobs at once on one machine, and submitit (SLURM's code path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_biosses_like, run_cli

TINY = ["model=tiny_bert", "trainer.max_epochs=2", "trainer.enable_progress_bar=false"]


def scores(sweep: Path) -> dict[int, float]:
    return {r["seed"]: r["test_score"] for r in (json.loads(p.read_text()) for p in sweep.glob("*/results.json"))}


@pytest.mark.slow  # a real multi-job sweep: make test-slow (make test stays under 10 minutes)
def test_parallel_launcher_matches_a_sequential_sweep_with_the_same_threads(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    seeds = ["-m", "seed=1,2,3,4"]
    parallel = run_cli(*TINY, f"data.root={data}", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2",
                       "hydra.sweep.dir=par", *seeds, cwd=tmp_path)  # fmt: skip
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    # hydra/launcher=basic: the default launcher would run these 1-thread jobs 2 at once too.
    sequential = run_cli(*TINY, f"data.root={data}", "hydra/launcher=basic", "trainer.num_threads=1",
                         "hydra.sweep.dir=seq", *seeds, cwd=tmp_path)  # fmt: skip
    assert sequential.returncode == 0, sequential.stderr[-3000:]
    assert sorted(scores(tmp_path / "par")) == [1, 2, 3, 4]
    assert scores(tmp_path / "par") == scores(tmp_path / "seq")
    logs = "".join(p.read_text() for p in (tmp_path / "par").glob("*/blurb_lab.log"))
    assert "parallel slot 0 of 2: 1 threads" in logs and "parallel slot 1 of 2: 1 threads" in logs
    # The slots and the thread count are where the jobs ran, not what they computed: one configuration.
    par = [json.loads(p.read_text()) for p in (tmp_path / "par").glob("*/results.json")]
    seq = [json.loads(p.read_text()) for p in (tmp_path / "seq").glob("*/results.json")]
    assert len({r["config_key"] for r in par + seq}) == 1 and len({r["config_label"] for r in par + seq}) == 1
    assert {r["hparams"]["trainer"]["device_slot"] for r in par} == {0, 1}
    (row,) = json.loads((tmp_path / "par" / "summary.json").read_text())["configurations"]
    assert row["n"] == 4


@pytest.mark.slow  # a real multi-job sweep: make test-slow (make test stays under 10 minutes)
def test_submitit_local_launcher_runs_a_two_seed_sweep(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    proc = run_cli(*TINY, f"data.root={data}", "hydra/launcher=submitit_local_jobs", "hydra.sweep.dir=sub",
                   "-m", "seed=1,2", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(scores(tmp_path / "sub")) == [1, 2]
    assert json.loads((tmp_path / "sub" / "summary.json").read_text())["configurations"][0]["n"] == 2


# --- GPU slots, checked on configs as the parallel launcher leaves them (no GPU needed) ---------------
