"""The study tables as Markdown (study_table.md, and what `blurb-lab report --table study` prints): the main
table, its notes, then the instability table. Markdown has no grouped header, so each task column names its
task type."""

from __future__ import annotations

from blurb_lab.report.blurb_score import GROUP_OF
from blurb_lab.report.study_table import (
    BLURB,
    NONE,
    OTHER,
    Markup,
    RowKey,
    StudyTable,
    blurb_cell,
    failed_text,
    main_cell,
    number_text,
    p_text,
)

INSTABILITY_COLUMNS = ("std", "min", "failed (95% CI)", "p spread")


def _label_cells(table: StudyTable, key: RowKey) -> list[str]:
    return [key.model, key.strategy, key.variant] if _has_variants(table) else [key.model, key.strategy]


def _has_variants(table: StudyTable) -> bool:
    return any(key.variant for key in table.keys)


def _header(table: StudyTable, columns: list[str]) -> list[str]:
    labels = ["model", "strategy", "variant"] if _has_variants(table) else ["model", "strategy"]
    return ["| " + " | ".join([*labels, *columns]) + " |", "|---" * (len(labels) + len(columns)) + "|"]


MARKUP = Markup(pm=" ± ", bold=lambda t: f"**{t}**", n=lambda n: f"(n={n})", partial=" (partial)", none=NONE)


def main_table(table: StudyTable) -> str:
    """Test mean ± std (n) per row and task, the BLURB score last; the best of each column in bold."""
    columns = [f"{task} ({GROUP_OF.get(task, OTHER)})" for task in table.tasks] + [BLURB]
    lines = _header(table, columns)
    for key in table.keys:
        cells = [main_cell(table, key, task, MARKUP) for task in table.tasks] + [blurb_cell(table, key, MARKUP)]
        lines.append("| " + " | ".join(_label_cells(table, key) + cells) + " |")
    return "\n".join(lines) + "\n"


def instability_table(table: StudyTable) -> str:
    """Per row and task: std and min of the test score, failed runs with their Wilson interval, and the
    Holm-adjusted p of Brown-Forsythe against the reference."""
    columns = [f"{task} {name}" for task in table.tasks for name in INSTABILITY_COLUMNS]
    lines = _header(table, columns)
    for key in table.keys:
        cells = []
        for task in table.tasks:
            row = table.cells.get((key, task))
            if row is None:
                cells += [NONE] * len(INSTABILITY_COLUMNS)
            else:
                cells += [number_text(row.test.std), number_text(row.test.min), failed_text(row), p_text(row)]
        lines.append("| " + " | ".join(_label_cells(table, key) + cells) + " |")
    return "\n".join(lines) + "\n"


def to_markdown(table: StudyTable, reference: str | None = None) -> str:
    """study_table.md: the main table with its notes, then the instability table."""
    against = reference or "standard (same model, task and other overrides)"
    parts = [
        "# Study table\n",
        "Test score at the best-dev checkpoint, mean ± sample std over seeds (n: scores in the mean); the "
        "highest mean of each column in bold. BLURB: mean over task types of the mean over their tasks "
        "(partial: some task types missing).\n",
        main_table(table),
    ]
    if table.notes:
        parts.append("\n".join(f"- {note}" for note in table.notes) + "\n")
    parts += [
        "## Instability\n",
        "Per task: sample std and min of the test score; failed runs k/n with the Wilson 95% interval of the "
        f"rate; p spread: Brown-Forsythe against {against}, Holm-adjusted over all the summary's tests "
        "(`ref`: the reference itself).\n",
        instability_table(table),
    ]
    return "\n".join(parts)
