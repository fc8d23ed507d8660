"""The jobs a sweep will launch, listed before it runs: one override list per job.

One enumeration for everything that must agree with the sweep: the blurb_grid sweeper itself
(which drops seeds past each task's count), the preflight's resume check (which job dir holds
which job) and `blurb-lab plan` (what the sweep will cost). Only Hydra and OmegaConf are imported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

GRID_SWEEPERS = ("BasicSweeper", "BlurbGridSweeper")
OPTUNA_SWEEPER = "BlurbOptunaSweeper"


def _parse(lines: Sequence[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(lines))


def _values(override: Any) -> list[str]:
    """An override's values as override text: a sweep's every value (an interval's start: it has
    no list), else its one value."""
    from hydra.core.override_parser.types import IntervalSweep

    if isinstance(override.value(), IntervalSweep):
        return [repr(override.value().start)]
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    return [override.input_line.split("=", 1)[1]]


def grid_jobs(param_lines: Sequence[str], task_lines: Sequence[str]) -> list[list[str]]:
    """Hydra's basic sweep: the cross product of every swept key, in Hydra's own job order (the
    sweeper's params first, replaced key by key by the command line)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return BasicSweeper.split_arguments(_parse(list(param_lines) + list(task_lines)), None)[0]


def _key(line: str) -> str:
    return line.split("=", 1)[0].lstrip("+~")


def seed_of(job: Sequence[str], seed_key: str = "seed") -> str | None:
    """The job's value of `seed_key` as written, or None."""
    found = [line.split("=", 1)[1] for line in job if _key(line) == seed_key]
    return found[-1] if found else None


def task_lines_of(job: Sequence[str]) -> tuple[str, ...]:
    """The overrides of a job that can change its task's seed count: `task=` and `task.*`."""
    return tuple(line for line in job if _key(line) == "task" or _key(line).startswith("task."))


def keep_task_seeds(
    jobs: Sequence[list[str]], n_seeds: Callable[[tuple[str, ...]], int], seed_key: str = "seed"
) -> list[list[str]]:
    """BLURB's seed count per task: of the jobs that differ only in `seed_key`, those of the first
    n_seeds(task lines) distinct seed values are kept, in order; n_seeds is asked once per task."""
    seen: dict[tuple[str, ...], list[str | None]] = {}
    limits: dict[tuple[str, ...], int] = {}
    kept = []
    for job in jobs:
        group = tuple(line for line in job if _key(line) != seed_key)
        task = task_lines_of(job)
        if task not in limits:
            limits[task] = n_seeds(task)
        seeds = seen.setdefault(group, [])
        seed = seed_of(job, seed_key)
        if seed not in seeds:
            seeds.append(seed)
        if seeds.index(seed) < limits[task]:
            kept.append(job)
    return kept


def composed_seed_count(task_lines: tuple[str, ...]) -> int:
    """task.n_seeds of the task these overrides choose, composed with the app's config (inside a
    running Hydra app or an initialize_config_dir block)."""
    from hydra import compose

    from blurb_lab.config.compose import CONFIG_NAME

    return int(compose(config_name=CONFIG_NAME, overrides=list(task_lines)).task.n_seeds)


def _sweeper_name(head: DictConfig) -> str:
    return str(OmegaConf.select(head, "hydra.sweeper._target_") or "").rsplit(".", 1)[-1]


def _param_lines(sweeper: DictConfig) -> list[str]:
    params = OmegaConf.select(sweeper, "params") or {}
    return [f"{key}={value}" for key, value in params.items()]


def optuna_strata(fixed: Mapping[str, str], swept: Mapping[str, list[str]], per: Sequence[str]) -> list[dict[str, str]]:
    """The separate studies of a blurb_optuna sweep with `study_per` keys: one per combination of
    those keys' values (fixed or swept), in command-line order; one empty stratum without them."""
    keys = [key for key in per if key in fixed or key in swept]
    choices = [swept.get(key) or [fixed[key]] for key in keys]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*choices)]


def optuna_jobs(head: DictConfig, task_lines: Sequence[str]) -> list[list[str]]:
    """A blurb_optuna sweep's jobs: per study, its trials (n_trials, or fewer when a grid sampler's
    grid is smaller) times its seeds. The searched keys are listed at their first value: which
    values a trial gets is only known while the sweep runs."""
    sweeper = head.hydra.sweeper
    seed_key = str(sweeper.get("seed_key", "seed"))
    seeds = [str(s) for s in sweeper.seeds]
    fixed: dict[str, str] = {}
    swept: dict[str, list[str]] = {}
    for override in _parse(_param_lines(sweeper) + list(task_lines)):
        key = override.get_key_element()
        if key.lstrip("+~") == seed_key:
            seeds = _values(override)
            continue
        fixed.pop(key, None)
        swept.pop(key, None)
        if override.is_sweep_override():
            swept[key] = _values(override)
        else:
            fixed[key] = _values(override)[0]
    per = list(sweeper.get("study_per") or [])
    strata = optuna_strata(fixed, swept, per)
    searched = {key: values for key, values in swept.items() if key not in per}
    n_trials = int(sweeper.n_trials)
    if str(OmegaConf.select(sweeper, "sampler._target_") or "").endswith("GridSampler"):
        n_trials = min(n_trials, math.prod(len(values) for values in searched.values()))
    jobs = []
    for stratum in strata:
        base = [f"{k}={v}" for k, v in fixed.items() if k not in stratum]
        base += [f"{k}={v}" for k, v in stratum.items()] + [f"{k}={v[0]}" for k, v in searched.items()]
        jobs += [base + [f"{seed_key}={seed}"] for _ in range(n_trials) for seed in seeds]
    return jobs


def sweep_jobs(
    head: DictConfig,
    task_lines: Sequence[str],
    n_seeds: Callable[[tuple[str, ...]], int] = composed_seed_count,
) -> list[list[str]]:
    """The jobs of the sweep `head` (a config composed with its hydra node) runs for the command
    line's task overrides: Hydra's basic sweeper, blurb_grid (n_seeds gives a task's seed count
    when it keeps BLURB's seeds per task) or blurb_optuna."""
    name = _sweeper_name(head)
    if name == OPTUNA_SWEEPER:
        return optuna_jobs(head, task_lines)
    if name not in GRID_SWEEPERS:
        raise ValueError(f"cannot list the jobs of sweeper {name!r}")
    jobs = grid_jobs(_param_lines(head.hydra.sweeper), task_lines)
    if name == "BlurbGridSweeper" and head.hydra.sweeper.get("task_seeds"):
        jobs = keep_task_seeds(jobs, n_seeds)
    return jobs
