"""One study per stratum (`study_per`), and the recipes file that the chosen trials make.

A study's first stage chooses a recipe for every (model, task) on its own: `study_per: [model,
task]` turns the values of those keys (swept on the command line or fixed) into separate Optuna
studies in one storage, each with the full budget and its own results dir, instead of search
dimensions. Each finished stratum's best trial becomes one entry of recipes.yaml, in the format of a
model's `recipes` (match fields `model` and `task`), which `study.recipes` reads in the second stage.

Imported only when a sweep starts (Hydra's plugin scan skips `_` modules).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import TrialState

from blurb_lab.sweep_jobs import optuna_strata

RECIPES_FILE = "recipes.yaml"
# The keys of a job's config a recipe entry records, as recipe fields.
RECIPE_KEYS = {"lr": "optim.lr", "batch_size": "data.batch_size", "epochs": "trainer.max_epochs"}
RECIPE_ATTR = "recipe"  # trial user attr: the recipe fields its first seed's job ran with


@dataclass(frozen=True)
class Stratum:
    values: dict[str, str]  # study_per key -> value; empty without study_per
    index: int

    def suffix(self) -> str:
        """A name part for the study and its results dir: the values joined by '-'."""
        return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", v) for v in self.values.values())

    def lines(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.values.items()]


def split_strata(
    fixed: list[str], space: dict[str, BaseDistribution], per: Sequence[str]
) -> tuple[list[str], dict[str, BaseDistribution], list[Stratum]]:
    """(fixed overrides less the study_per keys, search space less them, the strata)."""
    fixed_map = dict(line.split("=", 1) for line in fixed)
    swept = {}
    for key in per:
        dist = space.get(key)
        if dist is not None:
            if not isinstance(dist, CategoricalDistribution):
                raise ValueError(f"blurb_optuna: study_per key {key} must be fixed or a choice list, not {dist}")
            swept[key] = [str(c) for c in dist.choices]
    strata = [Stratum(values, i) for i, values in enumerate(optuna_strata(fixed_map, swept, per))]
    rest_fixed = [line for line in fixed if line.split("=", 1)[0] not in per]
    rest_space = {key: dist for key, dist in space.items() if key not in per}
    return rest_fixed, rest_space, strata


def ran_recipe(ret: JobReturn) -> dict[str, Any] | None:
    """The lr, batch size and epochs a job's config resolved to; None when the job has none."""
    cfg = getattr(ret, "cfg", None)
    if cfg is None:
        return None
    try:
        values = {field: OmegaConf.select(cfg, key) for field, key in RECIPE_KEYS.items()}
    except Exception:  # noqa: BLE001 - a task function with another config shape
        return None
    return values if all(v is not None for v in values.values()) else None


def recipe_entry(
    stratum: Stratum, study: optuna.Study, sweep_dir: Path, metric: str, objective: str
) -> dict[str, Any] | None:
    """The stratum's recipe: its best complete trial's values; None before a trial completes."""
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return None
    best = study.best_trial
    ran = best.user_attrs.get(RECIPE_ATTR)
    if ran is None:
        return None
    match = {key: value for key, value in stratum.values.items() if key in ("model", "task")}
    seeds = best.user_attrs.get("seeds")
    return {
        **match,
        **ran,
        "chosen_by": (
            f"experiment=study_recipes in {sweep_dir}: study {study.study_name}, trial {best.number}, "
            f"{metric} {best.value:.4f} ({objective} over seeds {seeds})"
        ),
        "dev_value": float(best.value),
        "params": dict(best.params),
    }


def write_recipes(entries: Sequence[Mapping[str, Any]], sweep_dir: Path) -> Path:
    """recipes.yaml in the sweep dir: these entries, plus those an earlier run over other slices left
    there (same model and task: replaced), written aside and then renamed."""
    path = sweep_dir / RECIPES_FILE
    ours = {(e.get("model"), e.get("task")) for e in entries}
    kept = []
    if path.exists():
        earlier = OmegaConf.to_container(OmegaConf.load(path)).get("recipes") or []
        kept = [e for e in earlier if (e.get("model"), e.get("task")) not in ours]
    tmp = path.with_suffix(".yaml.tmp")
    header = "# Chosen on dev by blurb_optuna (study_per); read by study.recipes. Do not edit by hand.\n"
    tmp.write_text(header + OmegaConf.to_yaml(OmegaConf.create({"recipes": [*kept, *entries]})))
    os.replace(tmp, path)
    return path
