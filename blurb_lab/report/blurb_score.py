"""The BLURB score: mean over the six task types of the mean over that type's datasets (Gu et al.)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from blurb_lab.report.rows import SummaryRow

TASK_GROUPS: dict[str, tuple[str, ...]] = {
    "NER": ("bc5chem", "bc5disease", "ncbi_disease", "bc2gm", "jnlpba"),
    "PICO": ("ebm_pico",),
    "relation extraction": ("chemprot", "ddi", "gad"),
    "sentence similarity": ("biosses",),
    "document classification": ("hoc",),
    "question answering": ("pubmedqa", "bioasq"),
}
GROUP_OF = {task: group for group, tasks in TASK_GROUPS.items() for task in tasks}
K = TypeVar("K")


def best_dev_per_task(rows: list[SummaryRow]) -> dict[str, SummaryRow]:
    """Per task with a test score, the configuration with the best mean dev score (the first on a tie), as in
    BLURB's protocol of choosing hyper-parameters on dev."""
    best: dict[str, SummaryRow] = {}
    for row in rows:
        if row.test.mean is None:
            continue
        dev = row.dev.mean if row.dev.mean is not None else float("-inf")
        current = best.get(row.task)
        if current is None or dev > (current.dev.mean or float("-inf")):
            best[row.task] = row
    return best


def blurb_score(rows: list[SummaryRow]) -> dict[str, Any] | None:
    """The (possibly partial) BLURB score of one group of rows (e.g. one model's), None when they cover fewer
    than two task types. A task's number is the mean test score of its best-dev configuration."""
    best = best_dev_per_task([r for r in rows if r.task in GROUP_OF])
    groups = {
        group: statistics.fmean(best[t].test.mean for t in tasks if t in best)
        for group, tasks in TASK_GROUPS.items()
        if any(t in best for t in tasks)
    }
    if len(groups) < 2:
        return None
    missing_tasks = [t for t in GROUP_OF if t not in best and GROUP_OF[t] in groups]
    return {
        "blurb_score": statistics.fmean(groups.values()),
        "partial": len(groups) < len(TASK_GROUPS),
        "task_types": groups,
        "missing_task_types": [g for g in TASK_GROUPS if g not in groups],
        "missing_tasks_in_covered_types": missing_tasks,
        "tasks": {t: {"test_mean": r.test.mean, "config": r.config} for t, r in sorted(best.items())},
    }


def grouped_blurb_scores(rows: list[SummaryRow], key: Callable[[SummaryRow], K]) -> dict[K, dict[str, Any]]:
    """The BLURB score of each group of rows (grouped by ``key``: a model, a (model, strategy) pair...) that
    covers at least two task types, in sorted key order."""
    groups: dict[K, list[SummaryRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    scores = {k: blurb_score(groups[k]) for k in sorted(groups)}  # type: ignore[type-var]
    return {k: score for k, score in scores.items() if score is not None}


def blurb_scores(rows: list[SummaryRow]) -> list[dict[str, Any]]:
    """Per model, when its runs cover at least two task types: the (possibly partial) BLURB score."""
    return [{"model": model, **score} for model, score in grouped_blurb_scores(rows, lambda r: r.model).items()]


def to_markdown(scores: list[dict[str, Any]]) -> str:
    if not scores:
        return ""
    lines = ["## BLURB score", "", "| model | BLURB score | " + " | ".join(TASK_GROUPS) + " |"]
    lines.append("|---" * (len(TASK_GROUPS) + 2) + "|")
    for s in scores:
        cells = [f"{s['task_types'][g]:.4f}" if g in s["task_types"] else "–" for g in TASK_GROUPS]
        label = f"{s['blurb_score']:.4f}" + (" (partial)" if s["partial"] else "")
        lines.append(f"| {s['model']} | {label} | " + " | ".join(cells) + " |")
    for s in scores:
        if s["partial"]:
            lines.append(f"\n{s['model']}: partial score; missing task types: {', '.join(s['missing_task_types'])}.")
        if s["missing_tasks_in_covered_types"]:
            lines.append(f"{s['model']}: datasets averaged without: {', '.join(s['missing_tasks_in_covered_types'])}.")
    return "\n".join(lines) + "\n"
