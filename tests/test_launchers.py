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


# --- GPU slots, checked on configs as the parallel launcher leaves them (no GPU needed) ---------------


def _compose_with_hydra(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from blurb_lab.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(
            config_name="config", overrides=["hydra/launcher=parallel", *overrides], return_hydra_config=True
        )


def _slot_config(overrides: list[str]):
    """(job config, hydra config) of a job under hydra/launcher=parallel."""
    from omegaconf import OmegaConf, open_dict

    cfg = _compose_with_hydra(overrides)
    hydra_cfg = cfg.hydra
    with open_dict(cfg):
        del cfg["hydra"]
    return OmegaConf.create(OmegaConf.to_container(cfg)), hydra_cfg


def _run_in_slot_and_capture(cfg, hydra_cfg, monkeypatch) -> dict:
    """What the job body receives from the launcher's slot logic (the training itself is stubbed)."""
    from omegaconf import OmegaConf

    import blurb_lab.train
    from blurb_lab.cli import _run_in_slot

    seen = {}

    def fake_run_job(job_cfg, output_dir, overrides):
        seen["cfg"] = OmegaConf.create(OmegaConf.to_container(job_cfg))
        return {}

    monkeypatch.setattr(blurb_lab.train, "run_job", fake_run_job)
    _run_in_slot(cfg, Path(hydra_cfg.sweep.dir), ["seed=1"], hydra_cfg)
    return seen["cfg"]


def _hparams(cfg) -> dict:
    """Resolved hparams as a job records them (paths need Hydra's runtime and are no part of identity)."""
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg)
    container["paths"] = {}
    return OmegaConf.to_container(OmegaConf.create(container), resolve=True)


def test_gpu_slots_leave_one_configuration_identity(tmp_path: Path, monkeypatch):
    """Two seeds of one configuration in two GPU slots: one key, one label (one summary row, one W&B group)."""
    import blurb_lab.parallel
    from blurb_lab.identity import configuration_key, configuration_label
    from blurb_lab.parallel import device_slot

    monkeypatch.setattr(blurb_lab.parallel, "visible_gpus", lambda: 2, raising=False)
    overrides = ["trainer=gpu", "model=tiny_bert", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path}"]
    cfg, hydra_cfg = _slot_config(overrides)
    first = _run_in_slot_and_capture(cfg.copy(), hydra_cfg, monkeypatch)
    with device_slot(2, tmp_path / ".slots"):  # another job holds slot 0: this one gets slot 1
        second = _run_in_slot_and_capture(cfg.copy(), hydra_cfg, monkeypatch)
    assert len({configuration_key(_hparams(c)) for c in (cfg, first, second)}) == 1
    assert configuration_label(first, ["seed=1"]) == configuration_label(second, ["seed=1"])
    from blurb_lab.train import trainer_devices

    assert [trainer_devices(c.trainer) for c in (first, second)] == [[0], [1]]  # the jobs do get different GPUs


def test_slots_are_capped_by_gpus_times_jobs_per_device():
    from omegaconf import OmegaConf

    from blurb_lab.parallel import n_slots, slot_devices

    launcher = OmegaConf.create({"_target_": "x.blurb_parallel_launcher.parallel_launcher.L", "n_jobs": 8,
                                 "jobs_per_device": 2})  # fmt: skip
    gpu = OmegaConf.create({"accelerator": "gpu", "devices": 1})
    assert n_slots(launcher, gpu, 2) == 4  # 2 GPUs x 2 jobs each
    assert n_slots(launcher, gpu, 8) == 8  # n_jobs is the cap
    assert n_slots(launcher, OmegaConf.create({"accelerator": "gpu", "devices": 2}), 4) == 4  # 2 groups of 2 x 2
    assert n_slots(launcher, OmegaConf.create({"accelerator": "cpu", "devices": 1}), 0) == 8
    assert [slot_devices(s, 1, 2) for s in range(4)] == [[0], [1], [0], [1]]  # spread first, then share
    assert [slot_devices(s, 2, 4) for s in range(3)] == [[0, 1], [2, 3], [0, 1]]


def test_launcher_runs_no_more_workers_than_slots(monkeypatch):
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

    import blurb_lab.parallel
    from hydra_plugins.blurb_parallel_launcher.parallel_launcher import BlurbParallelLauncher

    monkeypatch.setattr(blurb_lab.parallel, "visible_gpus", lambda: 1)
    # Hydra's plugin scan may re-run the joblib module: patch the class this launcher really extends.
    (base,) = BlurbParallelLauncher.__bases__
    assert base.__name__ == JoblibLauncher.__name__
    monkeypatch.setattr(base, "launch", lambda self, overrides, initial_job_idx: self.joblib["n_jobs"])
    launcher = BlurbParallelLauncher(n_jobs=8, jobs_per_device=3)
    launcher.config = _compose_with_hydra(
        ["trainer=gpu", "hydra.launcher.n_jobs=8", "hydra.launcher.jobs_per_device=3"]
    )
    assert launcher.launch([["seed=1"]], 0) == 3  # 1 GPU x 3 jobs per device
