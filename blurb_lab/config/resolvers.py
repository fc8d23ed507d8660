"""OmegaConf resolvers used by conf/: where the data lives by default, recipe defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab.locations import source_checkout


def default_data_root() -> str:
    """BLURB_DATA, else ../shared/blurb when it exists (beside cwd or, run from a checkout, beside the
    project), else data/blurb."""
    env = os.environ.get("BLURB_DATA")
    if env:
        return env
    checkout = source_checkout()
    for base in [Path.cwd()] + ([checkout] if checkout else []):
        candidate = (base / ".." / "shared" / "blurb").resolve()
        if candidate.is_dir():
            return str(candidate)
    return "data/blurb"


def matching_recipe(cfg: DictConfig) -> DictConfig | None:
    """The first of the model's recipes whose match fields fit cfg's task; None when none does."""
    task = cfg.task
    for recipe in cfg.model.get("recipes") or []:
        if (
            recipe.get("task") in (None, task.name)
            and (not recipe.get("task_types") or task.type in recipe.task_types)
            and recipe.get("pair_encoding") in (None, task.get("pair_encoding"))
            and recipe.get("pair_head") in (None, cfg.model.get("pair_head"))
        ):
            return recipe
    return None


def applied_recipe(cfg: DictConfig) -> str | None:
    """The `chosen_by` of the recipe behind this run's lr, batch size or epochs; None when no recipe
    matched or the user set every value it has (so results.json never credits an unused recipe)."""
    recipe = matching_recipe(cfg)
    if recipe is None:
        return None
    used = {"lr": cfg.optim.lr, "batch_size": cfg.data.batch_size, "epochs": cfg.trainer.max_epochs}
    applied = any(recipe.get(key) is not None and recipe.get(key) == value for key, value in used.items())
    return recipe.chosen_by if applied else None


def recipe_value(key: str, task_default: Any, *, _root_: DictConfig) -> Any:
    """`key` from the model's recipe for this task, else the task's BLURB default: a recipe is
    chosen for some kinds of task, so it must not leak onto the others."""
    recipe = matching_recipe(_root_)
    value = None if recipe is None else recipe.get(key)
    return task_default if value is None else value


def register_resolvers() -> None:
    from blurb_lab.parallel import gpu_count, ranks

    resolvers = (
        ("blurb_data_root", default_data_root),
        ("blurb_gpus", gpu_count),
        ("blurb_ranks", ranks),
        ("blurb_recipe", recipe_value),
    )
    for name, fn in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
