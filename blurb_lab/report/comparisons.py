"""Reference matching: which configuration each summary row is compared with (by default strategy=standard
for the same task and model, keeping the other overrides), and the row's comparison with it, Holm-adjusted
over the whole table (the tests themselves are ``significance``'s)."""

from __future__ import annotations

import logging
from typing import Any

from blurb_lab.report import significance
from blurb_lab.report.rows import SummaryRow

log = logging.getLogger(__name__)


def _bare_label(row: SummaryRow, strategy: str) -> str:
    """The label this row would have with another strategy and the same other overrides."""
    base = f"{row.model}/{row.task}/{row.strategy}"
    extras = row.config[len(base) :] if row.config.startswith(base) else ""
    return f"{row.model}/{row.task}/{strategy}{extras}"


def find_reference(row: SummaryRow, rows: list[SummaryRow], reference: str | None) -> SummaryRow | None:
    """The configuration a row is compared with.

    Default: strategy=standard for the same task and model, with the same other overrides when such a run
    exists, else the only (or the override-free) standard configuration. ``reference`` may name a
    configuration label (the reference for every row of its task and metric; rows of other tasks keep the
    default) or another strategy (used in place of standard).
    """
    exact = [r for r in rows if r.config == reference] if reference is not None else []
    if exact:
        if (exact[0].task, exact[0].metric) == (row.task, row.metric):
            return exact[0]
        reference = None
    strategy = reference or "standard"
    candidates = [r for r in rows if (r.task, r.model, r.strategy) == (row.task, row.model, strategy)]
    for label in (_bare_label(row, strategy), f"{row.model}/{row.task}/{strategy}"):
        match = [r for r in candidates if r.config == label]
        if match:
            return match[0]
    return candidates[0] if len(candidates) == 1 else None


def compare_rows(rows: list[SummaryRow], reference: str | None = None, aso: bool = True) -> None:
    """Fill each row's ``comparison`` (in place): tests against its reference, Holm-adjusted over the table
    (``aso``: also ASO eps_min when deepsig is installed)."""
    if reference is not None and not any(r.config == reference or r.strategy == reference for r in rows):
        log.warning("report.reference=%s names no configuration or strategy of these results", reference)
    with_aso = aso and significance.deepsig_available()
    pairs = [(row, find_reference(row, rows, reference)) for row in rows]
    n_compared = sum(1 for row, ref in pairs if ref is not None and ref is not row)
    comparisons = []
    for row, ref in pairs:
        if ref is None:
            row.comparison = {"reference": None, "verdict": "no reference configuration"}
            continue
        name = ref.config if reference is not None and ref.config == reference else ref.strategy
        if ref is row:
            row.comparison = {"reference": ref.config, "reference_name": name, "verdict": "reference"}
            continue
        if not row.n or not ref.n:  # every run pruned or crashed: nothing to test
            row.comparison = {"reference": ref.config, "reference_name": name, "verdict": "no finished runs"}
            continue
        result = significance.compare(_keyed(row), _keyed(ref), row.n_failed, ref.n_failed, with_aso, n_compared)
        row.comparison = {"reference": ref.config, "reference_name": name, **result}
        comparisons.append(row.comparison)
    significance.adjust_table(comparisons)


def _keyed(row: SummaryRow) -> list[tuple[Any, Any]]:
    keys = zip(row.seeds, row.seed_init, row.seed_data, strict=True)
    return list(zip(keys, row.test_scores, strict=True))
