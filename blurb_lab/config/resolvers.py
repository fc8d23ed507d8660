"""OmegaConf resolvers used by conf/: where the data lives by default, recipe defaults; and which
recipe a run's values came from and why (applied_recipe, value_sources, for results.json)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab.config.study_recipes import FIELDS, TASK_KEYS, study_entries
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


def _fits(recipe: Any, cfg: DictConfig) -> bool:
    """A recipe's match fields (null or empty: any) fit cfg's model and task."""
    task = cfg.task
    return (
        recipe.get("model") in (None, cfg.model.name)
        and recipe.get("task") in (None, task.name)
        and (not recipe.get("task_types") or task.type in recipe.get("task_types"))
        and recipe.get("pair_encoding") in (None, task.get("pair_encoding"))
        and recipe.get("pair_head") in (None, cfg.model.get("pair_head"))
    )


def matching_recipe(cfg: DictConfig) -> Any:
    """The recipe for cfg's model and task: the first fitting entry of the study's recipes file
    (study.recipes, chosen on dev by the study's first stage), else of the model's own recipes;
    None when none fits."""
    for recipe in [*study_entries(cfg), *(cfg.model.get("recipes") or [])]:
        if _fits(recipe, cfg):
            return recipe
    return None


def recipe_field(cfg: DictConfig, field: str) -> tuple[Any, Any]:
    """(matching_recipe's recipe for cfg, that recipe's `field`): None for the value when no
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
            return recipe.get("chosen_by")
    return None


def _raw(cfg: DictConfig, key: str) -> Any:
    """A value as written, interpolations unresolved."""
    parent, leaf = key.rsplit(".", 1)
    return OmegaConf.to_container(OmegaConf.select(cfg, parent), resolve=False).get(leaf)


def value_sources(cfg: DictConfig) -> dict[str, str]:
    """Where this run's lr, batch size and epochs come from, by the one precedence: a value set on
    optim.lr / data.batch_size / trainer.max_epochs (command line or preset), then the recipe, then
    the task's own. Read from the unresolved config, like applied_recipe."""
    sources = {}
    for field, key in FIELDS.items():
        raw = _raw(cfg, key)
        if not (isinstance(raw, str) and field in _READS_RECIPE.findall(raw)):
            sources[field] = f"set directly ({key})"
            continue
        recipe, value = recipe_field(cfg, field)
        sources[field] = f"task {cfg.task.name}" if value is None else f"recipe: {recipe.get('chosen_by')}"
    return sources


def shadowed_notes(cfg: DictConfig, given: set[str]) -> list[str]:
    """One line for each of task.lr, task.batch_size, task.epochs among the `given` keys (set by the
    user) that the precedence does not use, saying which value won and why."""
    notes = []
    for field, source in value_sources(cfg).items():
        task_key, key = TASK_KEYS[field], FIELDS[field]
        if task_key in given and not source.startswith("task "):
            notes.append(
                f"{task_key}={OmegaConf.select(cfg, task_key)} is not used: {key}={OmegaConf.select(cfg, key)} "
                f"wins, {source} (precedence: {key} set directly, then the recipe, then {task_key})"
            )
    return notes


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
