"""Command line: `python -m blurb_lab <overrides>` (a Hydra app), `blurb-lab`, `blurb-lab report <dirs>`.

Before Hydra starts (and before any sweep dir is made) every config the command line can produce
is composed and value-checked, so a bad key or value ends in one line and exit status 2.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from blurb_lab import tracking
from blurb_lab.config.resolvers import PROJECT_ROOT, register_resolvers
from blurb_lab.config.schema import register_configs
from blurb_lab.errors import BlurbLabError

CONFIG_DIR = str(PROJECT_ROOT / "conf")
CONFIG_NAME = "config"
log = logging.getLogger("blurb_lab")

register_resolvers()
register_configs()

# Hydra flags that take a value, and flags after which we leave everything to Hydra.
_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--info", "-i"}
_HANDS_OFF = {"--help", "-h", "--hydra-help", "--shell-completion", "-sc", "--version",
              "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
              "--experimental-rerun"}  # fmt: skip


def _fail(message: str) -> None:
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


def _variants(overrides: list[str]) -> list[list[str]]:
    """One override list per value of each sweep dimension (not the full product)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    parsed = [o for o in parsed if not o.get_key_element().lstrip("+~").startswith("hydra")]
    sweeps = [o for o in parsed if o.is_sweep_override()]
    base = [o.input_line for o in parsed if not o.is_sweep_override()]
    if not sweeps:
        return [base]
    values = {id(o): _sweep_values(o) for o in sweeps}
    variants = []
    for sweep in sweeps:
        others = [f"{o.get_key_element()}={values[id(o)][0]}" for o in sweeps if o is not sweep]
        for value in values[id(sweep)]:
            variants.append(base + others + [f"{sweep.get_key_element()}={value}"])
    return variants


def _sweep_values(override: Any) -> list[str]:
    """The values a sweep override can take; an interval (Optuna) is checked at its two ends."""
    from hydra.core.override_parser.types import IntervalSweep

    value = override.value()
    if isinstance(value, IntervalSweep):
        return [repr(value.start), repr(value.end)]
    return list(override.sweep_string_iterator())


def explain_compose_error(exc: Exception) -> str:
    """Hydra/OmegaConf composition errors as one line naming the key and what is allowed."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, option = exc.missing_cfg_file.rpartition("/")
        options = exc.options or sorted(p.stem for p in Path(CONFIG_DIR, group).glob("*.yaml"))
        if group:
            return f"{group}={option}: unknown option for '{group}'; allowed: {', '.join(options)}"
    cause: Any = exc
    while cause.__cause__ is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None) or "config"
        message = str(cause).splitlines()[0]
        obj = getattr(cause, "object_type", None)
        if "not in" in message and obj is not None and hasattr(obj, "__dataclass_fields__"):
            message += f"; allowed keys: {', '.join(obj.__dataclass_fields__)}"
        return f"{key}: {message}"
    return " ".join(str(exc).split())


def preflight(argv: list[str]) -> None:
    """Compose and validate every variant of the command line; exit 2 with one line on error."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from blurb_lab.config.validate import validate

    overrides = _overrides(argv)
    if overrides is None:
        return
    try:
        variants = _variants(overrides)
    except Exception as exc:  # an override the parser rejects
        _fail(explain_compose_error(exc))
    configs = []
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            for variant in variants:
                try:
                    cfg = compose(config_name=CONFIG_NAME, overrides=variant)
                except Exception as exc:
                    if os.environ.get("HYDRA_FULL_ERROR") == "1":
                        raise
                    _fail(explain_compose_error(exc))
                try:
                    validate(cfg)
                except BlurbLabError as exc:
                    _fail(str(exc))
                except Exception as exc:  # e.g. a bad interpolation resolved during checks
                    _fail(explain_compose_error(exc))
                configs.append(cfg)
            if not _VALUE_FLAGS & set(argv):  # --cfg/--info only print the config: they need no data
                _check_data(configs)
    finally:
        GlobalHydra.instance().clear()


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
        log.info("resume: %s already ok, not run again", output_dir)
        return previous
    exit_code = 1
    try:
        results = _run_in_slot(cfg, output_dir, overrides, hydra_cfg)
        exit_code = 0 if results.get("status") in ("ok", "inspected") else 1
    except BlurbLabError as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        _fail(str(exc))
    except Exception as exc:
        # Keep the sweep going: record the crash for the summary, then let single runs fail loudly.
        log.error("job failed:\n%s", traceback.format_exc())
        write_results(output_dir, _crash_record(cfg, exc, overrides))
        if hydra_cfg.mode is not None and hydra_cfg.mode.name == "MULTIRUN":
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
    """With resume=true: the results of this job dir when an earlier run finished it ok."""
    import json

    from blurb_lab.results import RESULTS_FILE

    path = output_dir / RESULTS_FILE
    if not cfg.resume or not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return results if results.get("status") == "ok" else None


def _run_in_slot(cfg: DictConfig, output_dir: Path, overrides: list[str], hydra_cfg: Any) -> dict[str, Any]:
    """Run the job; under a parallel launcher, first take a free slot (its GPU, its CPU threads)."""
    from omegaconf import open_dict

    from blurb_lab.parallel import device_slot, parallel_jobs, set_threads
    from blurb_lab.train import run_job

    n_parallel = parallel_jobs(hydra_cfg.launcher)
    if n_parallel <= 1:
        set_threads(cfg.trainer.num_threads, 1)
        return run_job(cfg, output_dir, overrides)
    with device_slot(n_parallel, Path(hydra_cfg.sweep.dir) / ".slots") as slot:
        threads = set_threads(cfg.trainer.num_threads, n_parallel)
        if cfg.trainer.accelerator in ("gpu", "cuda"):
            with open_dict(cfg):
                cfg.trainer.devices = [slot]
        log.info("parallel slot %d of %d: %d threads, devices=%s", slot, n_parallel, threads, cfg.trainer.devices)
        return run_job(cfg, output_dir, overrides)


def _crash_record(cfg: DictConfig, exc: Exception, overrides: list[str]) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from blurb_lab.results import scrub_secrets, versions
    from blurb_lab.train import configuration_key, configuration_label

    hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=True))
    return {
        "status": "failed",
        "error": f"{type(exc).__name__}: {exc}",
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
