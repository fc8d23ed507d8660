"""Sweeps on existing Hydra launchers: K jobs at once on one machine, and submitit (SLURM's code path)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import make_biosses_like, run_cli

TINY = ["model=tiny_bert", "trainer.max_epochs=2", "trainer.enable_progress_bar=false"]


def scores(sweep: Path) -> dict[int, float]:
    return {r["seed"]: r["test_score"] for r in (json.loads(p.read_text()) for p in sweep.glob("*/results.json"))}


def test_parallel_launcher_matches_a_sequential_sweep_with_the_same_threads(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    seeds = ["-m", "seed=1,2,3,4"]
    parallel = run_cli(*TINY, f"data.root={data}", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2",
                       "hydra.sweep.dir=par", *seeds, cwd=tmp_path)  # fmt: skip
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    sequential = run_cli(
        *TINY, f"data.root={data}", "trainer.num_threads=1", "hydra.sweep.dir=seq", *seeds, cwd=tmp_path
    )
    assert sequential.returncode == 0, sequential.stderr[-3000:]
    assert sorted(scores(tmp_path / "par")) == [1, 2, 3, 4]
    assert scores(tmp_path / "par") == scores(tmp_path / "seq")
    logs = "".join(p.read_text() for p in (tmp_path / "par").glob("*/blurb_lab.log"))
    assert "parallel slot 0 of 2: 1 threads" in logs and "parallel slot 1 of 2: 1 threads" in logs


def test_submitit_local_launcher_runs_a_two_seed_sweep(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    proc = run_cli(*TINY, f"data.root={data}", "hydra/launcher=submitit_local_jobs", "hydra.sweep.dir=sub",
                   "-m", "seed=1,2", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(scores(tmp_path / "sub")) == [1, 2]
    assert json.loads((tmp_path / "sub" / "summary.json").read_text())["configurations"][0]["n"] == 2


def test_slurm_preset_takes_gpus_and_ranks_from_the_trainer():
    from hydra import compose, initialize_config_dir

    from blurb_lab.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4",
                                                        "trainer.num_nodes=2"], return_hydra_config=True)  # fmt: skip
        cpu = compose(config_name="config", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.nodes) == (4, 4, 2)
    assert cpu.hydra.launcher.gpus_per_node == 0 and cpu.hydra.launcher.tasks_per_node == 1
