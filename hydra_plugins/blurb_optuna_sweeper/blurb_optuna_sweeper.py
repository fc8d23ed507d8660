"""The Hydra Sweeper class Hydra discovers. The work is in `_impl` and the other `_` modules, which
Hydra's plugin scan skips, so a plain run never imports optuna."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hydra_plugins.blurb_optuna_sweeper import config as _config  # noqa: F401  (registers the configs)


class BlurbOptunaSweeper(Sweeper):
    """Optuna search where every trial is the aggregate of one Hydra job per seed."""

    def __init__(self, **kwargs: Any) -> None:
        from hydra_plugins.blurb_optuna_sweeper._impl import BlurbOptunaSweeperImpl

        self.sweeper = BlurbOptunaSweeperImpl(**kwargs)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.sweeper.sweep(arguments)
