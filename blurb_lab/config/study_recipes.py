"""The recipes file of a study's first stage (`study.recipes`): read, checked and matched.

The blurb_optuna sweeper writes it (`study_per`, <sweep dir>/recipes.yaml): a `recipes:` list in the
format of a model's own `recipes`, whose entries also name their `model`. A bad file is one line
naming the file and, where there is one, the line; the file is read once per content.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from blurb_lab.errors import ConfigError

KEY = "study.recipes"
# Recipe fields, the config keys they set, and the task's own key that is the last fallback.
FIELDS = {"lr": "optim.lr", "batch_size": "data.batch_size", "epochs": "trainer.max_epochs"}
TASK_KEYS = {"lr": "task.lr", "batch_size": "task.batch_size", "epochs": "task.epochs"}
_cache: dict[tuple[str, int, int], list[dict[str, Any]]] = {}


def _positive(field: str, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value > 0 and (field == "lr" or float(value).is_integer())


def check_recipe_values(recipe: Any, where: str) -> None:
    """lr > 0, batch size and epochs whole numbers > 0 (null: not set); ConfigError naming `where`."""
    for field in FIELDS:
        value = recipe.get(field)
        if not _positive(field, value):
            allowed = "> 0" if field == "lr" else "a whole number > 0"
            raise ConfigError(f"{where}.{field}", f"{value!r} is not allowed; must be {allowed}, or null")


def load(path: str) -> list[dict[str, Any]]:
    """The entries of a recipes file; ConfigError for a missing or malformed file."""
    import yaml

    file = Path(path)
    try:
        stat = file.stat()
    except OSError:
        first_stage = "run the study's first stage (experiment=study_recipes)"
        raise ConfigError(KEY, f"{path}: no such file; {first_stage}") from None
    cache_key = (str(file.resolve()), stat.st_mtime_ns, stat.st_size)
    if cache_key in _cache:
        return _cache[cache_key]
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigError(KEY, f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    entries = data.get("recipes") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(KEY, f"{path}: expected a `recipes:` list of mappings")
    for i, entry in enumerate(entries):
        if not entry.get("model") or not entry.get("task"):
            raise ConfigError(KEY, f"{path}: recipes[{i}] names no model or no task")
        check_recipe_values(entry, f"{path}: recipes[{i}]")
    _cache[cache_key] = entries
    return entries


def recipes_path(cfg: Any) -> str | None:
    """study.recipes as set (an empty value counts as unset)."""
    study = cfg.get("study")
    value = study.get("recipes") if study is not None else None
    return os.fspath(value) if value else None


def study_entries(cfg: Any) -> list[dict[str, Any]]:
    """The recipes file's entries, or [] when study.recipes is unset."""
    path = recipes_path(cfg)
    return load(path) if path else []


def missing_recipe(path: str, model: str, task: str) -> ConfigError:
    return ConfigError(
        KEY,
        f"{path} has no recipe for model={model} task={task}; choose it on dev first: "
        f"python -m blurb_lab experiment=study_recipes model={model} task={task}",
    )


def check_recipes(cfg: Any, reads_recipe: set[str]) -> None:
    """Every lr, batch size and epochs in the config is valid whether or not the precedence uses it
    (the model's recipes here; the task's by validate's rules; a recipes file's when it loads), and
    with study.recipes set, a config that still reads a recipe field has its (model, task) entry."""
    for i, recipe in enumerate(cfg.model.get("recipes") or []):
        check_recipe_values(recipe, f"model.recipes[{i}]")
    path = recipes_path(cfg)
    if not path or not reads_recipe:
        return
    model, task = cfg.model.name, cfg.task.name
    if not any(entry["model"] == model and entry["task"] == task for entry in load(path)):
        raise missing_recipe(path, model, task)


def check_pairs(path: str, models: list[str], tasks: list[str]) -> None:
    """Every (model, task) of a sweep has its entry: checked for the whole grid at once, since the
    preflight composes only some combinations of a large sweep."""
    have = {(entry["model"], entry["task"]) for entry in load(path)}
    for model in models:
        for task in tasks:
            if (model, task) not in have:
                raise missing_recipe(path, model, task)
