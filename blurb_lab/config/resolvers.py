"""OmegaConf resolvers used by conf/: where the data lives by default, recipe defaults; and which
recipe a run's values came from (applied_recipe, for results.json)."""

from __future__ import annotations

import os
import re
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


def recipe_field(cfg: DictConfig, field: str) -> tuple[DictConfig | None, Any]:
    """(the recipe cfg's model has for its task, that recipe's `field`): None for the value when no
    recipe matches or the recipe leaves the field null. The one decision `${blurb_recipe:...}`
    resolves with, and applied_recipe reads back."""
    recipe = matching_recipe(cfg)
    return recipe, None if recipe is None else recipe.get(field)


def recipe_value(key: str, task_default: Any, *, _root_: DictConfig) -> Any:
    """`key` from the model's recipe for this task, else the task's BLURB default: a recipe is
    chosen for some kinds of task, so it must not leak onto the others."""
    _, value = recipe_field(_root_, key)
    return task_default if value is None else value


RECIPE_RESOLVER = "blurb_recipe"
# `${blurb_recipe:<field>,<default>}` anywhere in a value: the value is the recipe's, unless null.
_READS_RECIPE = re.compile(r"\$\{\s*" + RECIPE_RESOLVER + r"\s*:\s*([A-Za-z_]\w*)")


def recipe_fields_read(cfg: DictConfig) -> set[str]:
    """The recipe fields some value of the unresolved cfg reads through `${blurb_recipe:...}`:
    conf/config.yaml's optim.lr, data.batch_size and trainer.max_epochs do until the user sets
    them (an override replaces the interpolation). A resolved copy reads none."""
    found: set[str] = set()
    nodes = [OmegaConf.to_container(cfg, resolve=False)]
    while nodes:
        node = nodes.pop()
        if isinstance(node, str):
            found.update(_READS_RECIPE.findall(node))
        elif isinstance(node, dict | list):
            nodes.extend(node.values() if isinstance(node, dict) else node)
    return found


def applied_recipe(cfg: DictConfig) -> str | None:
    """The `chosen_by` of the recipe behind this run's lr, batch size or epochs; None when no recipe
    matched or the user set every value it has (so results.json never credits an unused recipe).

    Read from the config itself, not guessed from values: a value still interpolating
    `${blurb_recipe:<field>,...}` got the recipe's field whenever recipe_field found one (the
    resolver's own decision), and a value the user set, even to the recipe's number, reads no
    recipe. So call it on the unresolved config, as train.run_job does before DDP ranks get a
    resolved copy; every process that holds the config gets the same answer, no state kept."""
    for field in recipe_fields_read(cfg):
        recipe, value = recipe_field(cfg, field)
        if recipe is not None and value is not None:
            return recipe.chosen_by
    return None


def register_resolvers() -> None:
    from blurb_lab.config.batch import gpu_count, ranks

    resolvers = (
        ("blurb_data_root", default_data_root),
        ("blurb_gpus", gpu_count),
        ("blurb_ranks", ranks),
        (RECIPE_RESOLVER, recipe_value),
    )
    for name, fn in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
