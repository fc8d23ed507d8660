"""The study's tables (`blurb-lab report --table study`): one row per model x strategy, one column per BLURB
task present, grouped by BLURB's task types, with each row's BLURB score and its instability numbers.

Cells are summary rows (``rows.SummaryRow``): the numbers are the summary's own, tests and Holm's correction
included, so the study table and summary.json never disagree. A row never merges configurations: runs of
one model and strategy that differ in other overrides (two learning rates) get one row per override set
(its ``variant``), plus a ``best dev per task`` row that picks, per task, the variant with the best mean
dev score, as BLURB's protocol chooses hyper-parameters; configurations that share even their label
(results of other code or config versions) are told apart by their configuration key.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from blurb_lab.report.blurb_score import GROUP_OF, TASK_GROUPS, best_dev_per_task, grouped_blurb_scores
from blurb_lab.report.rows import SummaryRow
from blurb_lab.report.stats import finite

BEST_DEV = "best dev per task"  # the variant of a model x strategy row chosen on dev, task by task
OTHER = "other"  # the task type of tasks BLURB does not have (no part of the BLURB score)
BLURB = "BLURB"  # the BLURB score's column (and its task name in the CSV)
KEY_CHARS = 8  # how much of a configuration key tells apart configurations that share a label


@dataclass(frozen=True, order=True)
class RowKey:
    """A row of the study tables: a model, a strategy and the rest of its configuration's label."""

    model: str
    strategy: str
    variant: str = ""  # the overrides beyond model, task and strategy; BEST_DEV for the chosen-on-dev row

    @property
    def sort_key(self) -> tuple[Any, ...]:
        """Models in order, `standard` first among strategies, the plain variant first and BEST_DEV last."""
        return (self.model, self.strategy != "standard", self.strategy, self.variant == BEST_DEV, self.variant)


Cells = dict[tuple[RowKey, str], SummaryRow]  # (row, task) -> the configuration in that cell


@dataclass
class StudyTable:
    """The cells of both study tables; ``best`` holds the (row, column) pairs with their column's highest mean
    (column BLURB for the BLURB score)."""

    groups: list[tuple[str, list[str]]]  # (task type, its tasks present), in BLURB's order, OTHER last
    keys: list[RowKey]
    cells: Cells
    blurb: dict[RowKey, dict[str, Any]]  # blurb_score.blurb_score's dict, for rows covering two task types
    best: set[tuple[RowKey, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> list[str]:
        return [task for _, tasks in self.groups for task in tasks]


def variant_of(row: SummaryRow) -> str:
    """The part of a configuration label beyond `model/task/strategy` (the whole label if it has another form)."""
    base = f"{row.model}/{row.task}/{row.strategy}"
    return row.config[len(base) :].strip() if row.config.startswith(base) else row.config


def n_scores(row: SummaryRow) -> int:
    """How many test scores the cell's mean and std are over."""
    return len(finite(row.test_scores))


def task_groups(tasks: set[str]) -> list[tuple[str, list[str]]]:
    """The task types present and their tasks present, in TASK_GROUPS's order; tasks BLURB lacks go last."""
    groups = [(group, [t for t in members if t in tasks]) for group, members in TASK_GROUPS.items()]
    others = sorted(t for t in tasks if t not in GROUP_OF)
    return [(group, members) for group, members in [*groups, (OTHER, others)] if members]


def _row_keys(rows: list[SummaryRow]) -> tuple[dict[str, RowKey], list[str]]:
    """Each configuration's row (by config_key), and a note per label that several configurations share."""
    by_cell: dict[tuple[RowKey, str], list[SummaryRow]] = {}
    for row in rows:
        by_cell.setdefault((RowKey(row.model, row.strategy, variant_of(row)), row.task), []).append(row)
    keys, notes = {}, []
    for (key, _), members in by_cell.items():
        if len(members) > 1:
            notes.append(
                f"{len(members)} configurations share the label `{members[0].config}` (their identity differs: "
                "results of another code or config version?); they are shown apart, by key."
            )
        for row in members:
            suffix = f"[{row.config_key[:KEY_CHARS]}]" if len(members) > 1 else ""
            keys[row.config_key] = RowKey(key.model, key.strategy, " ".join(filter(None, (key.variant, suffix))))
    return keys, notes


def _best_dev_rows(rows: list[SummaryRow], keys: dict[str, RowKey]) -> tuple[Cells, list[str]]:
    """Cells of the BEST_DEV row of every model x strategy split into variants, and a note saying so."""
    variants: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        variants.setdefault((row.model, row.strategy), set()).add(keys[row.config_key].variant)
    cells: Cells = {}
    split = []
    for (model, strategy), names in sorted(variants.items()):
        if len(names) < 2:
            continue
        chosen = best_dev_per_task([r for r in rows if (r.model, r.strategy) == (model, strategy)])
        cells.update({(RowKey(model, strategy, BEST_DEV), task): row for task, row in chosen.items()})
        split.append(f"{model} / {strategy}")
    if not split:
        return cells, []
    return cells, [f"Split into one row per configuration (`variant`: its other overrides): {', '.join(split)}; "
                   f"their `{BEST_DEV}` row takes, per task, the one with the best mean dev score (BLURB's "
                   "protocol), and its BLURB score from those."]  # fmt: skip


def _mark_best(table: StudyTable) -> None:
    """Per task, the rows with the highest test mean (every BLURB metric is higher-is-better); for the BLURB
    score, among rows scored on every BLURB task of the table (a mean over fewer datasets is not comparable)."""
    for task in table.tasks:
        means = {k: row.test.mean for (k, t), row in table.cells.items() if t == task and row.test.mean is not None}
        top = max(means.values(), default=None)
        table.best.update((k, task) for k, mean in means.items() if mean == top)
    covered = {t for t in table.tasks if t in GROUP_OF}
    scores = {k: s["blurb_score"] for k, s in table.blurb.items() if set(s["tasks"]) == covered}
    top = max(scores.values(), default=None)
    table.best.update((k, BLURB) for k, score in scores.items() if score == top)


def build_study_table(rows: list[SummaryRow]) -> StudyTable:
    """Both study tables from the summary's rows (``summary.summarise``, comparisons filled)."""
    keys, notes = _row_keys(rows)
    cells = {(keys[row.config_key], row.task): row for row in rows}
    extra, split_notes = _best_dev_rows(rows, keys)
    cells.update(extra)
    blurb = grouped_blurb_scores(rows, lambda r: keys[r.config_key])
    chosen = {k for k, _ in extra}
    for (model, strategy), score in grouped_blurb_scores(rows, lambda r: (r.model, r.strategy)).items():
        if RowKey(model, strategy, BEST_DEV) in chosen:  # the same best-dev choice as the row's cells
            blurb[RowKey(model, strategy, BEST_DEV)] = score
    table = StudyTable(
        groups=task_groups({row.task for row in rows}),
        keys=sorted({k for k, _ in cells}, key=lambda k: k.sort_key),
        cells=cells,
        blurb=blurb,
        notes=split_notes + notes,
    )
    _mark_best(table)
    table.notes += _partial_notes(table)
    return table


def _partial_notes(table: StudyTable) -> list[str]:
    """One note per set of task types that partial BLURB scores miss, naming their rows."""
    by_missing: dict[tuple[str, ...], list[str]] = {}
    for key in table.keys:
        score = table.blurb.get(key)
        if score and score["partial"]:
            by_missing.setdefault(tuple(score["missing_task_types"]), []).append(_name(key))
    return [f"Partial BLURB score (missing task types: {', '.join(missing)}): {', '.join(names)}."
            for missing, names in by_missing.items()]  # fmt: skip


def _name(key: RowKey) -> str:
    return " / ".join(filter(None, (key.model, key.strategy, key.variant)))


# --- cell texts, shared by the Markdown and LaTeX tables ------------------------------------------------

NONE = "–"


def score_text(row: SummaryRow, pm: str = " ± ", none: str = NONE) -> str:
    """Test mean ± std (the mean alone with a single score)."""
    if row.test.mean is None:
        return none
    return f"{row.test.mean:.4f}" + ("" if row.test.std is None else f"{pm}{row.test.std:.4f}")


@dataclass(frozen=True)
class Markup:
    """How one output format writes a cell: the ± sign, bold, n, a partial BLURB score, no value."""

    pm: str
    bold: Callable[[str], str]
    n: Callable[[int], str]
    partial: str
    none: str


def main_cell(table: StudyTable, key: RowKey, task: str, markup: Markup) -> str:
    """A main-table cell: test mean ± std, bold where best in its column, then n."""
    row = table.cells.get((key, task))
    if row is None:
        return markup.none
    text = score_text(row, pm=markup.pm, none=markup.none)
    return f"{markup.bold(text) if (key, task) in table.best else text} {markup.n(n_scores(row))}"


def blurb_cell(table: StudyTable, key: RowKey, markup: Markup) -> str:
    """A row's BLURB score, bold where best, marked when partial."""
    score = table.blurb.get(key)
    if score is None:
        return markup.none
    text = f"{score['blurb_score']:.4f}"
    text = markup.bold(text) if (key, BLURB) in table.best else text
    return text + (markup.partial if score["partial"] else "")


def number_text(value: float | None, none: str = NONE) -> str:
    return none if value is None else f"{value:.4f}"


def failed_text(row: SummaryRow) -> str:
    """Failed runs k/n and the Wilson 95% interval of the rate."""
    ci = row.failed_rate_ci
    return f"{row.n_failed}/{row.n}" + ("" if ci is None else f" [{ci['low']:.2f}, {ci['high']:.2f}]")


def p_text(row: SummaryRow, none: str = NONE) -> str:
    """Holm-adjusted p of Brown-Forsythe against the reference; `ref` on the reference row itself."""
    tests = comparison_cells(row)
    if tests["is_reference"]:
        return "ref"
    p = tests["spread_p_holm"]
    return none if p is None else f"{p:.2g}" if p >= 0.001 else "<0.001"


# --- CSV: one line per cell of the main table, with that cell's instability numbers ----------------------

CSV_FIELDS = (
    "model", "strategy", "variant", "task_type", "task", "metric", "n", "test_mean", "test_std", "best",
    "test_min", "n_finished", "n_failed", "failed_rate", "failed_rate_ci_low", "failed_rate_ci_high",
    "reference", "spread_test", "spread_p_holm", "failures_p_holm", "blurb_partial", "config",
)  # fmt: skip


def comparison_cells(row: SummaryRow) -> dict[str, Any]:
    """The row's tests against its reference, as the summary computed them (Holm-adjusted over its table)."""
    comparison = row.comparison or {}
    tests = comparison.get("tests") or {}
    return {
        "reference": comparison.get("reference"),
        "is_reference": comparison.get("verdict") == "reference",
        "spread_test": (tests.get("spread") or {}).get("test"),
        "spread_p_holm": (tests.get("spread") or {}).get("p_holm"),
        "failures_p_holm": (tests.get("failures") or {}).get("p_holm"),
    }


def _task_line(table: StudyTable, key: RowKey, task: str, row: SummaryRow) -> dict[str, Any]:
    ci = row.failed_rate_ci or {}
    tests = comparison_cells(row)
    del tests["is_reference"]
    return {
        "task_type": GROUP_OF.get(task, OTHER), "task": task, "metric": row.metric, "n": n_scores(row),
        "test_mean": row.test.mean, "test_std": row.test.std, "best": (key, task) in table.best,
        "test_min": row.test.min, "n_finished": row.n, "n_failed": row.n_failed,
        "failed_rate": row.n_failed / row.n if row.n else None,
        "failed_rate_ci_low": ci.get("low"), "failed_rate_ci_high": ci.get("high"), **tests, "config": row.config,
    }  # fmt: skip


def to_csv(table: StudyTable) -> str:
    """study_table.csv: per row, one line per task it ran and one for its BLURB score (task `BLURB`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for key in table.keys:
        names = {"model": key.model, "strategy": key.strategy, "variant": key.variant}
        for task in table.tasks:
            if (key, task) in table.cells:
                line = _task_line(table, key, task, table.cells[key, task])
                writer.writerow({k: "" if v is None else v for k, v in {**names, **line}.items()})
        if key in table.blurb:
            score = table.blurb[key]
            writer.writerow({**names, "task_type": BLURB, "task": BLURB, "metric": "blurb_score",
                             "test_mean": score["blurb_score"], "best": (key, BLURB) in table.best,
                             "blurb_partial": score["partial"]})  # fmt: skip
    return buffer.getvalue()
