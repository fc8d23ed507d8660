"""resume=true: which job dirs are done, and whether a finished one is the job it stands in for.

A job dir is done when its results.json says the job ran to its end (ok, failed, diverged, pruned);
crashed or missing ones run again. A done job is reused only when its configuration identity and
seeds equal those of the job now asked for; the CLI checks every job dir before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab.identity import first_difference, identity
from blurb_lab.results import FINISHED_STATUSES, RESULTS_FILE, outcome, scrub_secrets
from blurb_lab.seeds import SEED_KEYS


def finished_results(job_dir: Path) -> dict[str, Any] | None:
    """The results of a job dir whose job ran to its end, else None (missing, unreadable, crashed)."""
    path = job_dir / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return results if isinstance(results, dict) and outcome(results) in FINISHED_STATUSES else None


def job_hparams(cfg: DictConfig) -> dict[str, Any]:
    """Resolved hparams of a config, as results.json stores them. `paths` is emptied first: it
    interpolates Hydra's runtime, absent before a job starts, and is no part of the identity."""
    container = OmegaConf.to_container(cfg, resolve=False)
    container["paths"] = {}
    return scrub_secrets(OmegaConf.to_container(OmegaConf.create(container), resolve=True))


def mismatch(result: dict[str, Any], hparams: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """(key, finished job's value, asked job's value) of the first difference in configuration
    identity or seeds, else None."""
    stored = result.get("hparams") or {}
    found = first_difference(identity(stored), identity(hparams))
    if found is not None:
        return found
    for key in SEED_KEYS:
        old = result.get(key, stored.get(key))
        if old != hparams.get(key):
            return key, old, hparams.get(key)
    return None


def describe(sweep_dir: Path, job: str, found: tuple[str, Any, Any]) -> str:
    """One line for a job dir that holds another job than the one asked for."""
    key, old, new = found
    return (
        f"resume: {sweep_dir}: job {job} finished with another configuration: {key} is {old!r} there, "
        f"{new!r} now; resume with the same overrides, or use another hydra.sweep.dir"
    )
