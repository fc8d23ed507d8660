"""Sweeps on existing Hydra launchers: K jobs at once on one machine, and submitit (SLURM's code path)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compose_config


def test_slurm_preset_takes_gpus_and_ranks_from_the_trainer():
    cfg = compose_config(overrides=["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4",
                                                    "trainer.num_nodes=2"], hydra=True)  # fmt: skip
    cpu = compose_config(overrides=["hydra/launcher=slurm"], hydra=True)
    launcher = cfg.hydra.launcher
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.nodes) == (4, 4, 2)
    assert cpu.hydra.launcher.gpus_per_node == 0 and cpu.hydra.launcher.tasks_per_node == 1


# --- GPU slots, checked on configs as the parallel launcher leaves them (no GPU needed) ---------------


def _compose_with_hydra(overrides: list[str]):

    return compose_config(overrides=["hydra/launcher=parallel", *overrides], hydra=True)


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
    from blurb_lab.job import run_in_slot

    seen = {}

    def fake_run_job(job_cfg, output_dir, overrides):
        seen["cfg"] = OmegaConf.create(OmegaConf.to_container(job_cfg))
        return {}

    monkeypatch.setattr(blurb_lab.train, "run_job", fake_run_job)
    run_in_slot(cfg, Path(hydra_cfg.sweep.dir), ["seed=1"], hydra_cfg)
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
