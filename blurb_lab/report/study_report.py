"""`blurb-lab report --table study`: the study tables from the summary's rows, written as study_table.md,
.csv and .tex (both tables in each file)."""

from __future__ import annotations

from pathlib import Path

from blurb_lab.report.rows import SummaryRow
from blurb_lab.report.study_latex import to_latex
from blurb_lab.report.study_markdown import to_markdown
from blurb_lab.report.study_table import build_study_table, to_csv
from blurb_lab.results import atomic_write_text

STUDY_FILES = ("study_table.md", "study_table.csv", "study_table.tex")


def write_study_tables(out_dir: Path, rows: list[SummaryRow], reference: str | None = None) -> str:
    """Write the study tables into ``out_dir``; the Markdown is returned for printing."""
    table = build_study_table(rows)
    markdown = to_markdown(table, reference)
    for name, text in zip(STUDY_FILES, (markdown, to_csv(table), to_latex(table)), strict=True):
        atomic_write_text(out_dir / name, text)
    return markdown
