"""The launcher class and its structured config; the slot each job takes is in blurb_lab.parallel.

Hydra imports this module when it scans `hydra_plugins` (outside sys.modules, so no
`from __future__ import annotations`: dataclasses would fail); torch is imported only when jobs launch.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

log = logging.getLogger(__name__)


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

        assert self.config is not None
        launcher_cfg = self.config.hydra.launcher
        slots = n_slots(launcher_cfg, self.config.trainer, visible_gpus())
        if slots < parallel_jobs(launcher_cfg):
            log.info("parallel: %d jobs at once (the machine's GPUs x jobs_per_device=%d)", slots, self.jobs_per_device)
        self.joblib["n_jobs"] = slots
        return super().launch(job_overrides, initial_job_idx)
