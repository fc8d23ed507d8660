"""Command line: `python -m blurb_lab <overrides>` (a Hydra app), `blurb-lab`, `blurb-lab report <dirs>`.

Before Hydra starts (and before any sweep dir is made) every combination of the swept values is
composed and value-checked (each value alone past MAX_COMBINATIONS), the data read, the GPUs asked
for counted and, with resume=true, every finished job dir compared with the job it stands in for,
so a bad key or value ends in one line and exit status 2. Inside a sweep, a job that still fails
records status `crashed` and the sweep goes on.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import hydra
from omegaconf import DictConfig, OmegaConf

from blurb_lab import tracking
from blurb_lab.config.compose import CONFIG_DIR, CONFIG_NAME, explain_compose_error, register
from blurb_lab.errors import BlurbLabError
from blurb_lab.resume import SEED_KEYS  # checked one value at a time: no rule relates a seed to another key

# Preflight composes at most this many combinations of the swept values (about 0.05-0.1 s each);
# past it each value is checked alone. BLURB_LAB_PREFLIGHT_COMBINATIONS sets another cap.
MAX_COMBINATIONS = 64
log = logging.getLogger("blurb_lab")

register()

# Hydra flags that take a value, and flags after which we leave everything to Hydra.
_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--info", "-i"}
_HANDS_OFF = {"--help", "-h", "--hydra-help", "--shell-completion", "-sc", "--version",
              "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
              "--experimental-rerun"}  # fmt: skip


def _fail(message: str) -> NoReturn:
    print(f"blurb-lab: {message}", file=sys.stderr)
    sys.exit(2)


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
        _fail(explain_compose_error(exc))
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


def preflight(argv: list[str]) -> None:
    """Compose and validate every variant of the command line, check the data, the GPUs and, with
    resume=true, the finished job dirs; exit 2 with one line on error."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = _overrides(argv)
    if overrides is None:
        return
    try:
        task, hydra_overrides = _split_overrides(overrides)
        first = [_first_value(o) for o in task]
    except Exception as exc:  # an override the parser rejects
        _fail(explain_compose_error(exc))
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            head = _compose(hydra_overrides + first, with_hydra=True)
            fixed, dims = _dimensions(task, OmegaConf.select(head, "hydra.sweeper.params"))
            variants, seeds, note = _variants(fixed, dims, _max_combinations())
            if note:
                print(f"blurb-lab: {note}", file=sys.stderr)
            configs = [_checked(_compose(variant)) for variant in variants]
            configs += [_checked(_with_seed(configs[0], key, value)) for key, value in seeds]
            if _VALUE_FLAGS & set(argv):  # --cfg/--info only print the config: they need no data
                return
            _check_gpus(configs, head.hydra.launcher)
            _check_data(configs)
            multirun = bool({"-m", "--multirun"} & set(argv)) or _mode(head) == "MULTIRUN"
            if head.resume:
                _check_resume(head, [o.input_line for o in task], multirun)
    finally:
        GlobalHydra.instance().clear()


def _compose(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """One composed config; a composition error ends the command with one line."""
    from hydra import compose

    try:
        return compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=with_hydra)
    except Exception as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        _fail(explain_compose_error(exc))


def _checked(cfg: DictConfig) -> DictConfig:
    from blurb_lab.config.validate import validate

    try:
        validate(cfg)
    except BlurbLabError as exc:
        _fail(str(exc))
    except Exception as exc:  # e.g. a bad interpolation resolved during checks
        _fail(explain_compose_error(exc))
    return cfg


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
            _fail(error)


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
        found = mismatch(result, job_hparams(_job_config(lines, composed)))
        if found is not None:
            _fail(describe(root, name, found))


def _resume_jobs(head: DictConfig, task_lines: list[str], multirun: bool) -> tuple[Path, list[Any]] | None:
    """(sweep or run dir, [(job name, job dir, overrides)]) as Hydra's basic sweeper numbers the
    jobs; None when no job dir exists yet or another sweeper picks the jobs while it runs (each
    of its jobs then checks its own dir)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not multirun:
        run_dir = Path(head.hydra.run.dir)
        return (run_dir, [("run", run_dir, task_lines)]) if run_dir.is_dir() else None
    root = Path(head.hydra.sweep.dir)
    if not root.is_dir() or not str(head.hydra.sweeper._target_).endswith("BasicSweeper"):
        return None
    params = [f"{k}={v}" for k, v in (head.hydra.sweeper.params or {}).items()]
    jobs = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(params + task_lines), None)[0]
    probe = OmegaConf.create({"hydra": OmegaConf.to_container(head.hydra, resolve=False)})
    listed = []
    for num, lines in enumerate(jobs):
        OmegaConf.update(probe, "hydra.job.num", num)
        listed.append((str(num), root / str(probe.hydra.sweep.subdir), lines))
    return root, listed


def _job_config(lines: list[str], composed: dict[tuple[str, ...], DictConfig]) -> DictConfig:
    """A job's config: composed once per combination of its non-seed overrides, seeds set after."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(lines)
    is_seed = [o.get_key_element().lstrip("+~") in SEED_KEYS for o in parsed]
    seeds = [o for o, seed in zip(parsed, is_seed, strict=True) if seed]
    others = tuple(o.input_line for o, seed in zip(parsed, is_seed, strict=True) if not seed)
    if others not in composed:
        composed[others] = _compose(list(others))
    cfg = copy.deepcopy(composed[others])
    for o in seeds:
        OmegaConf.update(cfg, o.get_key_element().lstrip("+~"), o.value())
    return cfg


def _check_data(configs: list[DictConfig]) -> None:
    """Read and check the data of each distinct task among the variants, so that a data error (a
    NaN label, a duplicate id) ends here, before Hydra makes a sweep dir and before any job runs."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from blurb_lab.data.checks import check_task_data

    seen = set()
    for cfg in configs:
        try:
            key = repr((cfg.data.source, cfg.data.root, OmegaConf.to_container(cfg.task, resolve=True)))
            if key not in seen:
                seen.add(key)
                check_task_data(cfg)
        except BlurbLabError as exc:
            _fail(str(exc))
        except OmegaConfBaseException as exc:  # e.g. data.root from an unset environment variable
            _fail(explain_compose_error(exc))


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=CONFIG_NAME)
def hydra_main(cfg: DictConfig) -> dict[str, Any] | None:
    from hydra.core.hydra_config import HydraConfig

    from blurb_lab.train import write_results

    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    previous = _finished_before(cfg, output_dir)
    if previous is not None:
        log.info("resume: %s already finished (status %s), not run again", output_dir, previous["status"])
        return previous
    multirun = hydra_cfg.mode is not None and hydra_cfg.mode.name == "MULTIRUN"
    exit_code = 1
    try:
        results = _run_in_slot(cfg, output_dir, overrides, hydra_cfg)
        exit_code = 0 if results.get("status") in ("ok", "inspected") else 1
    except BlurbLabError as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if not multirun:
            _fail(str(exc))
        # One bad job of a sweep (a combination preflight did not compose): record it, go on.
        log.error("job crashed: %s", exc)
        write_results(output_dir, _crash_record(cfg, exc, overrides))
        return None
    except Exception as exc:
        # Keep the sweep going: record the crash for the summary, then let single runs fail loudly.
        log.error("job crashed:\n%s", traceback.format_exc())
        write_results(output_dir, _crash_record(cfg, exc, overrides))
        if multirun:
            return None
        raise
    finally:
        tracking.finish(exit_code)
    if results.get("status") != "inspected":
        write_results(output_dir, results)
        log.info(
            "%s seed %s: status=%s dev %s=%s test %s=%s -> %s",
            results["config_label"], cfg.seed, results["status"], cfg.task.metric,
            results["dev_score"], cfg.task.metric, results["test_score"], output_dir,
        )  # fmt: skip
    return results


def _finished_before(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
    """With resume=true: the results of this job dir when an earlier run took the same job to its
    end (ok, failed, diverged, pruned). Preflight has checked the dirs of a basic sweep; a sweeper
    that picks its jobs while it runs (Optuna) is checked here, and a dir that holds another job
    is run again."""
    from blurb_lab.resume import finished_results, job_hparams, mismatch

    if not cfg.resume:
        return None
    results = finished_results(output_dir)
    if results is None:
        return None
    found = mismatch(results, job_hparams(cfg))
    if found is not None:
        log.warning("resume: %s finished another job (%s was %r, now %r): running it again", output_dir, *found)
        return None
    return results


def _run_in_slot(cfg: DictConfig, output_dir: Path, overrides: list[str], hydra_cfg: Any) -> dict[str, Any]:
    """Run the job; under a parallel launcher, first take a free slot (its GPU, its CPU threads).
    The slot goes to trainer.device_slot, which is no part of the configuration's identity."""
    from omegaconf import open_dict

    from blurb_lab.parallel import device_slot, exit_with_parent, n_slots, parallel_jobs, set_threads, visible_gpus
    from blurb_lab.train import run_job, trainer_devices

    if parallel_jobs(hydra_cfg.launcher) <= 1:
        set_threads(cfg.trainer.num_threads, 1)
        return run_job(cfg, output_dir, overrides)
    exit_with_parent()  # a worker process of the sweep: no orphan if the sweep is killed
    slots = n_slots(hydra_cfg.launcher, cfg.trainer, visible_gpus())
    with device_slot(slots, Path(hydra_cfg.sweep.dir) / ".slots") as slot:
        threads = set_threads(cfg.trainer.num_threads, slots)
        with open_dict(cfg):
            cfg.trainer.device_slot = slot
        devices = trainer_devices(cfg.trainer)
        log.info("parallel slot %d of %d: %d threads, devices=%s", slot, slots, threads, devices)
        return run_job(cfg, output_dir, overrides)


def _crash_record(cfg: DictConfig, exc: Exception, overrides: list[str]) -> dict[str, Any]:
    """results.json of a job that raised: status `crashed` and the error; resume runs it again."""
    from blurb_lab.identity import configuration_key, configuration_label
    from blurb_lab.results import CRASHED, scrub_secrets, versions

    try:
        hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=True))
    except Exception:  # noqa: BLE001 - the crash may be an interpolation that cannot resolve
        hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=False))
    return {
        "status": CRASHED,
        "error": scrub_secrets(f"{type(exc).__name__}: {exc}"),
        "task": cfg.task.name,
        "model": cfg.model.name,
        "strategy": cfg.strategy.name,
        "seed": cfg.seed,
        "metric": cfg.task.metric,
        "dev_score": None,
        "test_score": None,
        "config_key": configuration_key(hparams),
        "config_label": configuration_label(cfg, overrides),
        "hparams": hparams,
        "versions": versions(),
    }


def main() -> None:
    # `... task=x -m seed=1,2` is how users write a sweep; argparse wants the flag before the
    # overrides, so move it there.
    args = sys.argv[1:]
    if args[:1] == ["report"]:
        from blurb_lab.report.command import main as report_main

        report_main(args[1:])
        return
    flags = [a for a in args if a in ("-m", "--multirun")]
    sys.argv[1:] = flags[:1] + [a for a in args if a not in ("-m", "--multirun")]
    preflight(sys.argv[1:])
    hydra_main()


if __name__ == "__main__":
    main()
