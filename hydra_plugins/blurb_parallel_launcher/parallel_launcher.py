"""The launcher class and its structured config; the slot each job takes is in blurb_lab.parallel.

Hydra imports this module when it scans `hydra_plugins` (outside sys.modules, so no
`from __future__ import annotations`: dataclasses would fail); torch is imported only when jobs launch.
"""

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from omegaconf import DictConfig, read_write

log = logging.getLogger(__name__)

# loky replaces a worker whose memory grew by 300 MB since its first job (its leak guard); a MiniLM
# job's activations and the weights kept for the next job (models/loading.py) pass that, so the pool
# starts a fresh worker, and the jobs and their results are unaffected. Its warning would read like
# a failure in every sweep's log. Set when a launcher launches: Hydra imports plugins inside
# warnings.catch_warnings(), which drops any filter set at import.
LOKY_RECYCLING = "A worker stopped while some jobs were given to the executor"


@dataclass
class BlurbParallelLauncherConf(JobLibLauncherConf):
    _target_: str = "hydra_plugins.blurb_parallel_launcher.parallel_launcher.BlurbParallelLauncher"
    # Jobs that share one GPU (or one group of trainer.devices GPUs). Jobs at once on a GPU
    # trainer: min(n_jobs, GPUs // devices per job x jobs_per_device); n_jobs=-1 fills them all.
    jobs_per_device: int = 1


ConfigStore.instance().store(
    group="hydra/launcher", name="blurb_parallel", node=BlurbParallelLauncherConf, provider="blurb_lab"
)


class BlurbParallelLauncher(JoblibLauncher):
    """JoblibLauncher whose worker count is capped by the slots the machine has (no idle workers
    waiting for a GPU that will never free up)."""

    def __init__(self, jobs_per_device: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs_per_device = int(jobs_per_device)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from blurb_lab.parallel import n_slots, parallel_jobs, visible_gpus

        warnings.filterwarnings("ignore", message=LOKY_RECYCLING)
        assert self.config is not None
        launcher_cfg = self.config.hydra.launcher
        slots = n_slots(launcher_cfg, self.config.trainer, visible_gpus())
        if slots < parallel_jobs(launcher_cfg):
            log.info("parallel: %d jobs at once (the machine's GPUs x jobs_per_device=%d)", slots, self.jobs_per_device)
        self.joblib["n_jobs"] = slots
        with _watched(self.config, len(job_overrides), slots):
            return super().launch(job_overrides, initial_job_idx)


@dataclass
class BlurbAutoLauncherConf(JobLibLauncherConf):
    _target_: str = "hydra_plugins.blurb_parallel_launcher.parallel_launcher.BlurbAutoLauncher"
    # Written by the launcher for each batch (its choice, which each job reads to split the cores);
    # not a setting: the rule in blurb_lab.parallel.auto_layout decides it.
    n_jobs: int = 1
    # Most jobs at once; 0: as many as the rule allows. Lower it when that many jobs would not fit
    # in memory together.
    max_jobs: int = 0
    # Jobs that share one GPU (or one group of trainer.devices GPUs) on a GPU trainer, as in the
    # parallel launcher: jobs at once = min(jobs, GPUs // devices per job x jobs_per_device).
    jobs_per_device: int = 1
    # A CPU batch whose jobs' estimated training FLOPs add up to less runs one after another in the
    # sweep's own process: worker start-up would cost more than side by side saves. 0: never.
    min_flops: float = 6e12


ConfigStore.instance().store(
    group="hydra/launcher", name="blurb_auto", node=BlurbAutoLauncherConf, provider="blurb_lab"
)

# Job overrides that may change the trainer (its group or keys, or a preset that sets them), and
# those that may change a job's work as well.
_TRAINER_ROOTS = ("trainer", "experiment")
_WORK_ROOTS = (*_TRAINER_ROOTS, "task", "model", "data")


def _touches(override: str, roots: tuple[str, ...]) -> bool:
    key = override.split("=", 1)[0].lstrip("+~")
    return key.split(".")[0].split("/")[0] in roots


class BlurbAutoLauncher(JoblibLauncher):
    """The default multirun launcher: runs each batch as blurb_lab.parallel.auto_layout says, several
    jobs at once in worker processes, each in the parallel launcher's slots (its GPUs, its share of
    the cores), on CPU trainers and over the GPUs of GPU trainers; one after another (Hydra's basic
    launcher) where the rule says so (a lone job, DDP on CPU, one GPU per job on a one-GPU machine)."""

    def __init__(self, max_jobs: int = 0, jobs_per_device: int = 1, min_flops: float = 6e12, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_jobs = int(max_jobs)
        self.jobs_per_device = int(jobs_per_device)
        self.min_flops = float(min_flops)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from hydra._internal.core_plugins.basic_launcher import BasicLauncher

        from blurb_lab.parallel import Work, batch_layout, describe_layout, gpu_trainer, visible_gpus
        from blurb_lab.plan.flops import batch_training_flops

        warnings.filterwarnings("ignore", message=LOKY_RECYCLING)
        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        cores, n_gpus = os.cpu_count() or 1, visible_gpus()
        n = len(job_overrides)
        trainers = [config.trainer for config, _ in self._job_configs(job_overrides, _TRAINER_ROOTS)]
        layout = batch_layout(n, cores, trainers, n_gpus, self.max_jobs, self.jobs_per_device)
        if layout.at_once > 1 and self.min_flops > 0 and not any(gpu_trainer(t, n_gpus) for t in trainers):
            work = Work(batch_training_flops(self._job_configs(job_overrides, _WORK_ROOTS)), self.min_flops)
            layout = batch_layout(n, cores, trainers, n_gpus, self.max_jobs, self.jobs_per_device, work)
        log.info(describe_layout(n, cores, layout))
        with _jobs_told(self.config, layout.at_once), _watched(self.config, n, layout.at_once):
            if layout.at_once > 1:
                self.joblib["n_jobs"] = layout.at_once
                return super().launch(job_overrides, initial_job_idx)
            basic = BasicLauncher()
            basic.setup(hydra_context=self.hydra_context, task_function=self.task_function, config=self.config)
            return basic.launch(job_overrides, initial_job_idx)

    def _job_configs(
        self, job_overrides: Sequence[Sequence[str]], roots: tuple[str, ...]
    ) -> list[tuple[DictConfig, int]]:
        """(config, jobs) per distinct set of the batch's overrides under `roots`: the sweep's own
        config for jobs that override none of them (`-m seed=1,2,3` composes nothing)."""
        assert self.config is not None and self.hydra_context is not None
        groups: dict[tuple[str, ...], list[Sequence[str]]] = {}
        for job in job_overrides:
            groups.setdefault(tuple(o for o in job if _touches(o, roots)), []).append(job)
        load = self.hydra_context.config_loader.load_sweep_config if any(groups) else None
        return [(load(self.config, list(jobs[0])) if load and key else self.config, len(jobs))
                for key, jobs in groups.items()] or [(self.config, 0)]  # fmt: skip


def _watched(config: DictConfig, n_jobs: int, at_once: int) -> contextlib.AbstractContextManager[None]:
    """The sweep's console (blurb_lab/console.py) while a batch runs: each job's start and end line,
    one progress bar or line, each distinct warning once; the jobs' own logs stay in their dirs."""
    from blurb_lab.console import sweep_console, sweep_header

    header = sweep_header(config.hydra.sweep.dir, config.hydra.job.name)
    return sweep_console().batch(n_jobs, at_once, header)


@contextlib.contextmanager
def _jobs_told(config: DictConfig, at_once: int) -> Iterator[None]:
    """Each job is composed from the sweep's hydra overrides plus its own: append the chosen job count
    there while the batch launches (the jobs' own overrides, and so their identity, stay as they were)."""
    line = f"hydra.launcher.n_jobs={at_once}"
    with read_write(config.hydra.overrides):
        config.hydra.overrides.hydra.append(line)
    try:
        yield
    finally:
        with read_write(config.hydra.overrides):
            del config.hydra.overrides.hydra[-1]
