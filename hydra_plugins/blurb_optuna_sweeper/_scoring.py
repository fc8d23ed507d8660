"""Scoring: one job's outcome as a seed's score, and a trial's value from its seeds' scores.

Imported only when a sweep starts (Hydra's plugin scan skips `_` modules).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.utils import JobReturn

from hydra_plugins.blurb_optuna_sweeper.config import Direction, Objective

Outcome = tuple[float | None, str]  # (score, status) of one seed's job


def seed_outcome(ret: JobReturn, metric: str) -> Outcome:
    """(score, status) of one job; score None means the seed failed (raised, diverged, non-finite)."""
    try:
        value = ret.return_value
    except Exception as exc:  # noqa: BLE001 - JobReturn re-raises the job's own exception
        return None, f"raised {type(exc).__name__}: {exc}"
    if value is None:
        return None, "crashed"
    if isinstance(value, Mapping):
        status = str(value.get("status", "ok"))
        if status == "diverged":
            return None, status
        score = value.get(metric)
    else:  # a task function that returns the score itself
        status, score = "ok", value
    try:
        score = float(score)
    except (TypeError, ValueError):
        return None, f"{status}: no numeric {metric}"
    if not math.isfinite(score):
        return None, f"{status}: non-finite {metric}"
    return score, status


def aggregate(scores: Sequence[float], objective: Objective, direction: Direction) -> float:
    """The trial value from per-seed scores."""
    mean = statistics.fmean(scores)
    if objective is Objective.mean:
        return mean
    if objective is Objective.median:
        return float(statistics.median(scores))
    std = statistics.stdev(scores) if len(scores) > 1 else 0.0
    return mean - std if direction is Direction.maximize else mean + std


def seed_attrs(outcomes: Sequence[Outcome], seeds: Sequence[int], rets: Sequence[JobReturn]) -> dict[str, Any]:
    """The trial user attrs that record each seed's outcome, so a failed or surprising trial can be
    read back from the study alone: scores (None where the seed failed), statuses and job dirs."""
    scores = [score for score, _ in outcomes]
    good = [s for s in scores if s is not None]
    return {
        "scores": scores,
        "seed_scores": {str(seed): score for seed, score in zip(seeds, scores, strict=True)},
        "statuses": [status for _, status in outcomes],
        "score_std": statistics.stdev(good) if len(good) > 1 else 0.0 if good else None,
        "n_failed_runs": len(scores) - len(good),
        "job_dirs": [_job_dir(ret) for ret in rets],
    }


def fail_reasons(outcomes: Sequence[Outcome], seeds: Sequence[int]) -> list[str]:
    """One 'seed N: status' for every seed that failed its trial."""
    pairs = zip(seeds, outcomes, strict=True)
    return [f"seed {seed}: {status}" for seed, (score, status) in pairs if score is None]


def _job_dir(ret: JobReturn) -> str | None:
    try:
        return str(ret.hydra_cfg.hydra.runtime.output_dir)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - a launcher may not carry the hydra config back
        return None
