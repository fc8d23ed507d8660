"""Structured config of the blurb_grid sweeper, registered in Hydra's ConfigStore (a module of its
own: Hydra's plugin scan executes plugin modules in a way dataclasses cannot inspect)."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class BlurbGridSweeperConf:
    _target_: str = "hydra_plugins.blurb_grid_sweeper.blurb_grid_sweeper.BlurbGridSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None
    # true: a task runs the first task.n_seeds of the swept seeds, not all of them.
    task_seeds: bool = False


ConfigStore.instance().store(
    group="hydra/sweeper", name="blurb_grid", node=BlurbGridSweeperConf, provider="blurb_grid_sweeper"
)
