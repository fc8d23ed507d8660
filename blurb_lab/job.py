"""One Hydra job, wrapped (in the spirit of lightning-hydra-template's task_wrapper): the job body runs
inside a try whose every way out closes the process's W&B run, and whose outcome is recorded.

`hydra_main` is the Hydra app: with resume=true a job dir that holds this job, finished, is reused;
otherwise `run_recorded` runs the body (`run_in_slot`: a parallel launcher's slot, then
train.run_job) and writes results.json: the job's results (none for inspect=true), or a crash record
(status `crashed` and the error) when it raised. A sweep goes on past a crashed job; a single run
fails: a BlurbLabError as one line and exit status 2 (no record written), anything else with its
traceback once its crash record is written.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from blurb_lab import tracking
from blurb_lab.config.compose import CONFIG_DIR, CONFIG_NAME, register
from blurb_lab.console import JobConsole
from blurb_lab.errors import BlurbLabError, fail

log = logging.getLogger("blurb_lab")

register()  # resolvers and schema, also in launcher processes that import only this module


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=CONFIG_NAME)
def hydra_main(cfg: DictConfig) -> dict[str, Any] | None:
    from hydra.core.hydra_config import HydraConfig

    from blurb_lab.startup import import_training_stack

    import_training_stack()
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    multirun = hydra_cfg.mode is not None and hydra_cfg.mode.name == "MULTIRUN"
    job = job_console(cfg, overrides, hydra_cfg.job.num if multirun else None, output_dir)
    with job.collecting():
        previous = finished_before(cfg, output_dir)
        if previous is not None:
            log.info("resume: %s already finished (status %s), not run again", output_dir, previous["status"])
            job.skipped(previous)
            return previous
        body = lambda: run_in_slot(cfg, output_dir, overrides, hydra_cfg, job.started)
        return run_recorded(cfg, output_dir, overrides, multirun, body, job)


def job_console(cfg: DictConfig, overrides: list[str], num: int | None, output_dir: Path) -> JobConsole:
    """The job's console lines (blurb_lab/console.py), named by its configuration label and seed."""
    from blurb_lab.distributed import is_rank_zero
    from blurb_lab.identity import configuration_label

    try:
        label = configuration_label(cfg, overrides)
    except Exception:  # noqa: BLE001 - a config that cannot resolve crashes in the job, which records it
        label = " ".join(overrides)
    return JobConsole(label=label, seed=cfg.get("seed"), num=num, job_dir=str(output_dir), shown=is_rank_zero())


def run_recorded(
    cfg: DictConfig,
    output_dir: Path,
    overrides: list[str],
    multirun: bool,
    body: Callable[[], dict[str, Any]],
    job: JobConsole | None = None,
) -> dict[str, Any] | None:
    """Run the job body and write its results.json (none for inspect=true), or on an exception a
    crash record; in a sweep a crashed job returns None and the sweep goes on, a single run fails.
    The process's W&B run is finished on every way out (exit code 0 only for ok and inspected); the
    job's end line goes to the console."""
    from blurb_lab.distributed import is_rank_zero
    from blurb_lab.job_record import crash_record
    from blurb_lab.results import write_results

    # Under torchrun or srun every rank runs this, into one shared dir: rank 0 alone writes.
    record = write_results if is_rank_zero() else _not_written
    exit_code = 1
    try:
        results = body()
        exit_code = 0 if results.get("status") in ("ok", "inspected") else 1
    except BlurbLabError as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if not multirun:
            fail(str(exc))
        # One bad job of a sweep (a combination preflight did not compose): record it, go on.
        log.error("job crashed: %s", exc)
        record(output_dir, crashed := crash_record(cfg, exc, overrides))
        _end_line(job, crashed)
        return None
    except Exception as exc:
        # Keep the sweep going: record the crash for the summary, then let single runs fail loudly.
        log.error("job crashed:\n%s", traceback.format_exc())
        record(output_dir, crashed := crash_record(cfg, exc, overrides))
        _end_line(job, crashed)
        if multirun:
            return None
        raise
    finally:
        tracking.finish(exit_code)
    if results.get("status") != "inspected":
        record(output_dir, results)
        log.info(
            "%s seed %s: status=%s dev %s=%s test %s=%s -> %s",
            results["config_label"], cfg.seed, results["status"], cfg.task.metric,
            results["dev_score"], cfg.task.metric, results["test_score"], output_dir,
        )  # fmt: skip
    _end_line(job, results)
    return results


def _end_line(job: JobConsole | None, results: dict[str, Any]) -> None:
    if job is not None:
        job.ended(results)


def _not_written(output_dir: Path, results: dict[str, Any]) -> None:
    """What ranks other than 0 write as results: nothing."""


def finished_before(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
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


def run_in_slot(
    cfg: DictConfig,
    output_dir: Path,
    overrides: list[str],
    hydra_cfg: Any,
    started: Callable[[str], None] = lambda where: None,
) -> dict[str, Any]:
    """Run the job; under a parallel launcher, first take a free slot (its GPU, its CPU threads).
    The slot goes to trainer.device_slot, which is no part of the configuration's identity.
    `started` is told where the job runs once it has its slot (the console's start line)."""
    from omegaconf import open_dict

    from blurb_lab.parallel import (
        describe_slot,
        device_slot,
        exit_with_parent,
        n_slots,
        parallel_jobs,
        set_threads,
        uses_gpus,
        visible_gpus,
    )
    from blurb_lab.train import run_job, trainer_devices

    if parallel_jobs(hydra_cfg.launcher) <= 1:
        threads = set_threads(cfg.trainer.num_threads, 1)
        started(describe_slot(None, 1, threads, cfg.trainer.devices, uses_gpus(cfg.trainer)))
        return run_job(cfg, output_dir, overrides)
    exit_with_parent()  # a worker process of the sweep: no orphan if the sweep is killed
    slots = n_slots(hydra_cfg.launcher, cfg.trainer, visible_gpus())
    with device_slot(slots, Path(hydra_cfg.sweep.dir) / ".slots") as slot:
        threads = set_threads(cfg.trainer.num_threads, slots)
        with open_dict(cfg):
            cfg.trainer.device_slot = slot
        devices = trainer_devices(cfg.trainer)
        log.info("parallel slot %d of %d: %d threads, devices=%s", slot, slots, threads, devices)
        started(describe_slot(slot, slots, threads, devices, uses_gpus(cfg.trainer)))
        return run_job(cfg, output_dir, overrides)
