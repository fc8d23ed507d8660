"""What a sweep left in W&B, read back from its results.json files: the project its jobs logged to and
the names blurb_lab's W&B logger gave them (tracking.py), so that a workspace can select exactly them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blurb_lab.errors import BlurbLabError
from blurb_lab.results import RESULTS_FILE
from blurb_lab.tracking import group_name


class DashboardError(BlurbLabError):
    """The sweep dir cannot give a workspace (no sweep, no W&B logging, or pushing is impossible)."""


@dataclass(frozen=True)
class SweepRuns:
    """A sweep's runs in W&B. `groups`: one W&B group per configuration, named as tracking.group_name
    named it when the job ran (its stored config_key, not today's recomputed one); `metrics`: the task
    metrics, logged as dev/<m> every epoch and best_dev/<m>, test/<m> in each run's summary;
    `aggregate_run`: the display name of the sweep's job_type=aggregate run (report/wandb_summary.py)."""

    sweep_dir: Path
    entity: str | None
    project: str
    online: bool  # its jobs logged with logger.wandb_mode=online
    groups: list[str]
    metrics: list[str]
    aggregate_run: str


def _load(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every readable results.json under the sweep (unreadable or foreign ones are skipped)."""
    out = []
    for path in sorted(sweep_dir.rglob(RESULTS_FILE)):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(result, dict) and "config_key" in result and "config_label" in result:
            out.append(result)
    return out


def _logger(result: dict[str, Any]) -> dict[str, Any] | None:
    """The job's logger settings when it logged to W&B, else None."""
    hparams = result.get("hparams")
    logger = hparams.get("logger") if isinstance(hparams, dict) else None
    if isinstance(logger, dict) and logger.get("wandb") and logger.get("wandb_mode") != "disabled":
        return logger
    return None


def read_sweep(sweep_dir: Path) -> SweepRuns:
    """The sweep's runs in W&B; DashboardError (one line) when the dir holds no sweep that logged to W&B,
    or when its jobs logged to more than one project."""
    if not sweep_dir.is_dir():
        raise DashboardError(f"not a directory: {sweep_dir}")
    results = _load(sweep_dir)
    if not results:
        raise DashboardError(f"no results.json under {sweep_dir}: not a sweep dir")
    logged = [(r, lg) for r in results if (lg := _logger(r)) is not None]
    if not logged:
        raise DashboardError(f"no job under {sweep_dir} logged to W&B (run the sweep with logger=wandb)")
    projects = sorted({(lg.get("wandb_entity") or "", str(lg.get("wandb_project"))) for _, lg in logged})
    if len(projects) > 1:
        names = ", ".join(f"{e}/{p}" if e else p for e, p in projects)
        raise DashboardError(f"the jobs under {sweep_dir} logged to several W&B projects ({names}): one per sweep")
    (entity, project), lgs = projects[0], [lg for _, lg in logged]
    return SweepRuns(
        sweep_dir=sweep_dir,
        entity=entity or None,
        project=project,
        online=any(lg.get("wandb_mode") == "online" for lg in lgs),
        groups=sorted({group_name(r["config_label"], r["config_key"]) for r, _ in logged}),
        metrics=sorted({str(r["metric"]) for r, _ in logged if r.get("metric")}),
        aggregate_run=f"summary {sweep_dir.resolve().name}",
    )
