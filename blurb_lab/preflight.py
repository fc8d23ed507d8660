"""Preflight: before Hydra starts (and before any sweep dir is made) every combination of the swept
values is composed and value-checked (each value alone past MAX_COMBINATIONS), the data read, the
GPUs asked for counted and, with resume=true, every finished job dir compared with the job it stands
in for, so a bad key or value ends in one line and exit status 2.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab.config.compose import CONFIG_DIR, CONFIG_NAME, explain_compose_error, register
from blurb_lab.errors import BlurbLabError, fail
from blurb_lab.seeds import SEED_KEYS  # checked one value at a time: no rule relates a seed to another key

# Preflight composes at most this many combinations of the swept values (about 0.05-0.1 s each);
# past it each value is checked alone. BLURB_LAB_PREFLIGHT_COMBINATIONS sets another cap.
MAX_COMBINATIONS = 64

register()

# Hydra flags that take a value, and flags after which we leave everything to Hydra.
_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--info", "-i"}
_HANDS_OFF = {"--help", "-h", "--hydra-help", "--shell-completion", "-sc", "--version",
              "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
              "--experimental-rerun"}  # fmt: skip


def _overrides(argv: list[str]) -> list[str] | None:
    """The override arguments of a command line, or None when Hydra should handle it alone."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg.split("=")[0] in _HANDS_OFF:
            return None
        if arg in _VALUE_FLAGS:
            skip = arg not in ("--info", "-i")
            continue
        if not arg.startswith("-"):
            out.append(arg)
    return out


def _split_overrides(overrides: list[str]) -> tuple[list[Any], list[str]]:
    """(task overrides, parsed; hydra override lines) of a command line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    is_hydra = [o.get_key_element().lstrip("+~").startswith("hydra") for o in parsed]
    task = [o for o, h in zip(parsed, is_hydra, strict=True) if not h]
    return task, [o.input_line for o, h in zip(parsed, is_hydra, strict=True) if h]


def _dimensions(task: list[Any], sweeper_params: Any) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(fixed override lines, swept keys with their values): the sweeper's params (presets set
    them), then the command line, whose keys replace the params' own."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    given = {o.get_key_element() for o in task}
    params = [parser.parse_override(f"{k}={v}") for k, v in (sweeper_params or {}).items()]
    entries = [o for o in params if o.get_key_element() not in given] + task
    fixed = [o.input_line for o in entries if not o.is_sweep_override()]
    return fixed, [(o.get_key_element(), _sweep_values(o)) for o in entries if o.is_sweep_override()]


def _variants(
    fixed: list[str], dims: list[tuple[str, list[str]]], cap: int
) -> tuple[list[list[str]], list[tuple[str, str]], str | None]:
    """What preflight checks: override lists for every combination of the non-seed swept values
    (past `cap` combinations, for each value alone), the other seed values (set on the first
    config, no composition needed: no rule relates a seed to another key), and a note past the cap."""
    crossed = [(k, v) for k, v in dims if k.lstrip("+~") not in SEED_KEYS]
    seeds = [(k, value) for k, values in dims if k.lstrip("+~") in SEED_KEYS for value in values[1:]]
    n = math.prod(len(v) for _, v in crossed)
    note, alone = None, []
    if n > cap:
        alone, crossed = crossed, []
        note = f"preflight: {n} combinations of the swept values, more than {cap}: each value checked alone"

    def variant(chosen: dict[str, str]) -> list[str]:
        return fixed + [f"{k}={chosen.get(k, values[0])}" for k, values in dims]

    keys = [k for k, _ in crossed]
    variants = [variant(dict(zip(keys, values, strict=True))) for values in itertools.product(*(v for _, v in crossed))]
    for key, values in alone:
        variants.extend(variant({key: value}) for value in values[1:])
    return variants, seeds, note


def _with_seed(cfg: DictConfig, key: str, value: str) -> DictConfig:
    """A copy of cfg with one seed key set, type-checked by the schema as composition would."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = copy.deepcopy(cfg)
    try:
        OmegaConf.update(out, key.lstrip("+~"), OverridesParser.create().parse_override(f"k={value}").value())
    except Exception as exc:
        fail(explain_compose_error(exc))
    return out


def _first_value(override: Any) -> str:
    """An override with a sweep reduced to its first value."""
    if not override.is_sweep_override():
        return override.input_line
    return f"{override.get_key_element()}={_sweep_values(override)[0]}"


def _max_combinations() -> int:
    return int(os.environ.get("BLURB_LAB_PREFLIGHT_COMBINATIONS", MAX_COMBINATIONS))


def _sweep_values(override: Any) -> list[str]:
    """The values a sweep override can take; an interval (Optuna) is checked at its two ends."""
    from hydra.core.override_parser.types import IntervalSweep

    value = override.value()
    if isinstance(value, IntervalSweep):
        return [repr(value.start), repr(value.end)]
    return list(override.sweep_string_iterator())


def parse_command(overrides: list[str]) -> tuple[list[Any], list[str], list[str]]:
    """(task overrides, parsed; hydra override lines; the task overrides at their first value) of a
    command line; an override the parser rejects ends the command with one line."""
    try:
        task, hydra_overrides = _split_overrides(overrides)
        return task, hydra_overrides, [_first_value(o) for o in task]
    except Exception as exc:
        fail(explain_compose_error(exc))


def preflight(argv: list[str]) -> None:
    """Compose and validate every variant of the command line, check the data, the GPUs and, with
    resume=true, the finished job dirs; exit 2 with one line on error."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = _overrides(argv)
    if overrides is None:
        return
    task, hydra_overrides, first = parse_command(overrides)
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            head = compose_one(hydra_overrides + first, with_hydra=True)
            fixed, dims = _dimensions(task, OmegaConf.select(head, "hydra.sweeper.params"))
            variants, seeds, note = _variants(fixed, dims, _max_combinations())
            if note:
                print(f"blurb-lab: {note}", file=sys.stderr)
            configs = [checked_config(compose_one(variant)) for variant in variants]
            configs += [checked_config(_with_seed(configs[0], key, value)) for key, value in seeds]
            _check_study_recipes(configs[0], dims)
            _note_shadowed(configs[0], task)
            if _VALUE_FLAGS & set(argv):  # --cfg/--info only print the config: they need no data
                return
            _check_gpus(configs, head.hydra.launcher)
            _check_data(configs)
            multirun = bool({"-m", "--multirun"} & set(argv)) or _mode(head) == "MULTIRUN"
            if head.resume:
                _check_resume(head, [o.input_line for o in task], multirun)
    finally:
        GlobalHydra.instance().clear()


def compose_one(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """One composed config; a composition error ends the command with one line."""
    from hydra import compose

    try:
        return compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=with_hydra)
    except Exception as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        fail(explain_compose_error(exc))


def checked_config(cfg: DictConfig) -> DictConfig:
    from blurb_lab.config.validate import validate

    try:
        validate(cfg)
    except BlurbLabError as exc:
        fail(str(exc))
    except Exception as exc:  # e.g. a bad interpolation resolved during checks
        fail(explain_compose_error(exc))
    return cfg


def _check_study_recipes(cfg: DictConfig, dims: list[tuple[str, list[str]]]) -> None:
    """With study.recipes set, every swept (model, task) pair has its chosen recipe."""
    from blurb_lab.config.resolvers import recipe_fields_read
    from blurb_lab.config.study_recipes import check_pairs, recipes_path

    path = recipes_path(cfg)
    if not path or not recipe_fields_read(cfg):
        return
    swept = dict(dims)
    try:
        check_pairs(path, swept.get("model", [cfg.model.name]), swept.get("task", [cfg.task.name]))
    except BlurbLabError as exc:
        fail(str(exc))


def _note_shadowed(cfg: DictConfig, task: list[Any]) -> None:
    """Say when a task value the user set is not the one used (a recipe or a direct value wins)."""
    from blurb_lab.config.resolvers import shadowed_notes

    for note in shadowed_notes(cfg, {o.get_key_element().lstrip("+~") for o in task}):
        print(f"blurb-lab: {note}", file=sys.stderr)


def _mode(head: DictConfig) -> str:
    mode = OmegaConf.select(head, "hydra.mode")
    return str(getattr(mode, "name", mode))


def _check_gpus(configs: list[DictConfig], launcher_cfg: Any) -> None:
    """A run on this machine that asks for GPUs it lacks ends here (a SLURM launcher's jobs run on
    other machines: not checked)."""
    from blurb_lab.parallel import gpu_request_error, uses_gpus, visible_gpus

    if "slurm" in str(launcher_cfg.get("_target_", "")).lower():
        return
    n_gpus = visible_gpus() if any(uses_gpus(cfg.trainer) for cfg in configs) else 0
    for cfg in configs:
        error = None if cfg.inspect else gpu_request_error(cfg.trainer, launcher_cfg, n_gpus)
        if error:
            fail(error)


def _check_resume(head: DictConfig, task_lines: list[str], multirun: bool) -> None:
    """Every finished job dir must hold the job it stands in for (same identity and seeds), or
    the command stops before anything runs."""
    from blurb_lab.resume import describe, finished_results, job_hparams, mismatch

    jobs = _resume_jobs(head, task_lines, multirun)
    if jobs is None:
        return
    root, listed = jobs
    composed: dict[tuple[str, ...], DictConfig] = {}
    for name, job_dir, lines in listed:
        result = finished_results(job_dir)
        if result is None:
            continue
        found = mismatch(result, job_hparams(job_config(lines, composed)))
        if found is not None:
            fail(describe(root, name, found))


def _resume_jobs(head: DictConfig, task_lines: list[str], multirun: bool) -> tuple[Path, list[Any]] | None:
    """(sweep or run dir, [(job name, job dir, overrides)]) as a grid sweeper numbers the jobs; None
    when no job dir exists yet or another sweeper picks the jobs while it runs (each of its jobs
    then checks its own dir)."""
    from blurb_lab.sweep_jobs import GRID_SWEEPERS, sweep_jobs

    if not multirun:
        run_dir = Path(head.hydra.run.dir)
        return (run_dir, [("run", run_dir, task_lines)]) if run_dir.is_dir() else None
    root = Path(head.hydra.sweep.dir)
    if not root.is_dir() or not str(head.hydra.sweeper._target_).endswith(GRID_SWEEPERS):
        return None
    jobs = sweep_jobs(head, task_lines)
    probe = OmegaConf.create({"hydra": OmegaConf.to_container(head.hydra, resolve=False)})
    listed = []
    for num, lines in enumerate(jobs):
        OmegaConf.update(probe, "hydra.job.num", num)
        listed.append((str(num), root / str(probe.hydra.sweep.subdir), lines))
    return root, listed


def job_config(lines: list[str], composed: dict[tuple[str, ...], DictConfig]) -> DictConfig:
    """A job's config: composed once per combination of its non-seed overrides, seeds set after."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(lines)
    is_seed = [o.get_key_element().lstrip("+~") in SEED_KEYS for o in parsed]
    seeds = [o for o, seed in zip(parsed, is_seed, strict=True) if seed]
    others = tuple(o.input_line for o, seed in zip(parsed, is_seed, strict=True) if not seed)
    if others not in composed:
        composed[others] = compose_one(list(others))
    cfg = copy.deepcopy(composed[others])
    for o in seeds:
        OmegaConf.update(cfg, o.get_key_element().lstrip("+~"), o.value())
    return cfg


def _check_data(configs: list[DictConfig]) -> None:
    """Read and check the data of each distinct task among the variants, so that a data error (a
    NaN label, a duplicate id) ends here, before Hydra makes a sweep dir and before any job runs."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from blurb_lab.data.check_cache import check_task_data_once

    seen = set()
    for cfg in configs:
        try:
            key = repr((cfg.data.source, cfg.data.root, OmegaConf.to_container(cfg.task, resolve=True)))
            if key not in seen:
                seen.add(key)
                check_task_data_once(cfg)  # unchanged files that passed before are not read again
        except BlurbLabError as exc:
            fail(str(exc))
        except OmegaConfBaseException as exc:  # e.g. data.root from an unset environment variable
            fail(explain_compose_error(exc))
