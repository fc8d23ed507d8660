"""Structured config of the blurb_optuna sweeper, registered in Hydra's ConfigStore.

Hydra imports this module when it scans `hydra_plugins`, so it stays free of heavy imports
(optuna is imported only when a sweep starts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class Direction(Enum):
    minimize = "minimize"
    maximize = "maximize"


class Objective(Enum):
    """How a trial's per-seed dev scores become its one value."""

    mean = "mean"
    median = "median"
    # Pessimistic: mean - std when maximizing, mean + std when minimizing (sample std, 0 for one seed).
    mean_minus_std = "mean_minus_std"


@dataclass
class BlurbOptunaSweeperConf:
    _target_: str = "hydra_plugins.blurb_optuna_sweeper.blurb_optuna_sweeper.BlurbOptunaSweeper"
    _recursive_: bool = False  # the sweeper builds sampler and pruner itself (grid needs the params)
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "nop"}])
    # Any optuna sampler / pruner: {_target_: optuna.samplers.X, **kwargs}; options under
    # hydra/sweeper/sampler and hydra/sweeper/pruner.
    sampler: Any = MISSING
    pruner: Any = MISSING
    direction: Direction = Direction.maximize
    # None: sqlite:///<hydra.sweep.dir>/optuna.db. Any Optuna RDB URL otherwise (postgresql://...).
    storage: str | None = None
    study_name: str = "blurb_lab"
    n_trials: int = 20  # finished trials (COMPLETE, FAIL, PRUNED) the study ends with, resumes included
    n_jobs: int = 1  # trials launched together in one launcher batch (n_jobs * len(seeds) jobs)
    # The sweep stops once FAIL trials exceed this fraction of n_trials.
    max_failure_rate: float = 0.25
    # key -> interval(a, b) | tag(log, interval(a, b)) | tag(int, interval(a, b)) | range(a, b[, step]) | choice(...)
    params: Any = None  # a mapping; typed Any so `hydra.sweeper.params={a.b: "interval(0,1)"}` merges
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    objective: Objective = Objective.mean
    metric: str = "dev_score"  # key of the job's return dict that is scored
    seed_key: str = "seed"  # config key each job's seed is passed as
    # Keys whose values (fixed or a choice list) each get a study of their own instead of being searched,
    # e.g. [model, task]: one recipe per (model, task), written to <sweep dir>/recipes.yaml.
    study_per: list[str] = field(default_factory=list)


SAMPLERS: dict[str, dict[str, Any]] = {
    "tpe": {"_target_": "optuna.samplers.TPESampler", "seed": None, "n_startup_trials": 10, "multivariate": False},
    "random": {"_target_": "optuna.samplers.RandomSampler", "seed": None},
    "cmaes": {"_target_": "optuna.samplers.CmaEsSampler", "seed": None, "n_startup_trials": 1},
    "gp": {"_target_": "optuna.samplers.GPSampler", "seed": None, "n_startup_trials": 10},
    "qmc": {"_target_": "optuna.samplers.QMCSampler", "seed": None, "qmc_type": "sobol", "scramble": True},
    # search_space null: built from the params, which must then all be choice(...) or range(...).
    "grid": {"_target_": "optuna.samplers.GridSampler", "seed": None, "search_space": None},
    "nsgaii": {"_target_": "optuna.samplers.NSGAIISampler", "seed": None, "population_size": 50},
}

PRUNERS: dict[str, dict[str, Any]] = {
    "nop": {"_target_": "optuna.pruners.NopPruner"},
    "median": {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 5, "n_warmup_steps": 1},
    "percentile": {"_target_": "optuna.pruners.PercentilePruner", "percentile": 25.0, "n_startup_trials": 5},
    "successive_halving": {"_target_": "optuna.pruners.SuccessiveHalvingPruner", "min_resource": 1},
    "hyperband": {"_target_": "optuna.pruners.HyperbandPruner", "min_resource": 1},
}


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(group="hydra/sweeper", name="blurb_optuna", node=BlurbOptunaSweeperConf, provider="blurb_optuna_sweeper")
    for name, node in SAMPLERS.items():
        cs.store(group="hydra/sweeper/sampler", name=name, node=node, provider="blurb_optuna_sweeper")
    for name, node in PRUNERS.items():
        cs.store(group="hydra/sweeper/pruner", name=name, node=node, provider="blurb_optuna_sweeper")


register()
