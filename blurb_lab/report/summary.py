"""From a sweep's results to its summary: one statistics row per configuration, each compared with its
reference, written as summary.md / .csv / .json (with the BLURB score when several task types are covered)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from blurb_lab.report import blurb_score, significance, stats
from blurb_lab.report.comparisons import compare_rows
from blurb_lab.report.csv_schema import to_csv
from blurb_lab.report.gather import run_sort_key
from blurb_lab.report.markdown import to_markdown
from blurb_lab.report.rows import SummaryRow, reference_scores, summary_row
from blurb_lab.results import atomic_write_text, write_json


def summarise(results: list[dict[str, Any]], reference: str | None = None, aso: bool = True) -> list[SummaryRow]:
    """One row per configuration (everything but the seeds), best mean test score first, each compared with
    its reference configuration (see ``comparisons.compare_rows``; ``aso``: also ASO eps_min when deepsig is
    installed). Pruned and crashed runs are counted (n_pruned, n_crashed) but enter no statistic, n included."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(result["config_key"], []).append(result)
    rows = [summary_row(key, sorted(runs, key=run_sort_key)) for key, runs in groups.items()]
    rows.sort(key=lambda r: -math.inf if r.test.mean is None else r.test.mean, reverse=True)
    compare_rows(rows, reference, aso)
    return rows


def comparison_settings(rows: list[SummaryRow], reference: str | None, aso: bool) -> dict[str, Any]:
    """summary.json's `comparison_settings`: what the comparisons were made against and with."""
    n_tests = sum(1 for r in rows if r.tested) * len(significance.TEST_ORDER)
    return {
        "reference": reference or "strategy=standard (same task and model)",
        "correction": "holm",
        "n_tests": n_tests,
        "alpha": significance.ALPHA,
        "confidence": stats.CONFIDENCE,
        "bootstrap": {"n_resamples": stats.BOOTSTRAP_RESAMPLES, "seed": stats.BOOTSTRAP_SEED},
        "aso": "deepsig" if aso else "not computed (report.aso=false, or deepsig not installed)",
    }


def write_summary(
    out_dir: Path, rows: list[SummaryRow], reference: str | None = None, aso: bool = True
) -> list[dict[str, Any]]:
    """summary.md / .csv / .json (with the BLURB score when several task types are covered)."""
    scores = blurb_score.blurb_scores(rows)
    settings = comparison_settings(rows, reference, aso and significance.deepsig_available())
    summary = {"configurations": [row.to_dict() for row in rows], "blurb_scores": scores,
               "reference_scores": reference_scores(rows), "comparison_settings": settings}  # fmt: skip
    write_json(out_dir / "summary.json", summary)
    atomic_write_text(out_dir / "summary.csv", to_csv(rows))
    markdown = "# Per-seed summary\n\n" + to_markdown(rows)
    if scores:
        markdown += "\n" + blurb_score.to_markdown(scores)
    atomic_write_text(out_dir / "summary.md", markdown)
    return scores
