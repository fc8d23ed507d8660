"""The study tables as LaTeX (study_table.tex): two booktabs tables whose task columns sit under their BLURB
task type (a \\cmidrule under each type), ready to \\input into a paper that loads booktabs."""

from __future__ import annotations

from collections.abc import Callable

from blurb_lab.report.study_table import (
    BLURB,
    Markup,
    RowKey,
    StudyTable,
    blurb_cell,
    failed_text,
    main_cell,
    number_text,
    p_text,
)

NONE = "--"
SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
           "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip
INSTABILITY_COLUMNS = ("std", "min", "failed [95\\% CI]", "$p$")


def escape(text: str) -> str:
    """Text with LaTeX's special characters escaped (task names and overrides carry `_` and `=`)."""
    return "".join(SPECIAL.get(char, char) for char in text)


def _labels(table: StudyTable) -> list[str]:
    return ["model", "strategy", "variant"] if any(k.variant for k in table.keys) else ["model", "strategy"]


def _label_cells(table: StudyTable, key: RowKey) -> list[str]:
    values = [key.model, key.strategy, key.variant][: len(_labels(table))]
    return [escape(v) for v in values]


def _type_header(table: StudyTable, per_task: int, trailing: int) -> list[str]:
    """The task-type row of the header and its \\cmidrules (``per_task`` columns under each task)."""
    first = len(_labels(table)) + 1
    cells, rules = [""] * len(_labels(table)), []
    for group, tasks in table.groups:
        width = per_task * len(tasks)
        cells.append(rf"\multicolumn{{{width}}}{{c}}{{{escape(group)}}}")
        rules.append(rf"\cmidrule(lr){{{first}-{first + width - 1}}}")
        first += width
    return [" & ".join(cells + [""] * trailing) + r" \\", " ".join(rules)]


def _rows(table: StudyTable, cells_of: Callable[[RowKey], list[str]]) -> list[str]:
    """The body: one line per row, a \\midrule between models."""
    lines, model = [], None
    for key in table.keys:
        if model is not None and key.model != model:
            lines.append(r"\midrule")
        model = key.model
        lines.append(" & ".join(_label_cells(table, key) + cells_of(key)) + r" \\")
    return lines


def _wrap(table: StudyTable, spec: str, header: list[str], body: list[str], caption: str, label: str) -> str:
    return "\n".join([
        r"\begin{table}[htbp]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
        *header, r"\midrule", *body, r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}",
        rf"\label{{{label}}}", r"\end{table}",
    ]) + "\n"  # fmt: skip


MARKUP = Markup(pm=r" $\pm$ ", bold=lambda t: rf"\textbf{{{t}}}", n=lambda n: f"({n})", partial="$^*$", none=NONE)


def main_table(table: StudyTable) -> str:
    labels = _labels(table)
    header = _type_header(table, 1, 1)
    header.append(" & ".join(labels + [escape(t) for t in table.tasks] + [BLURB]) + r" \\")
    body = _rows(
        table, lambda key: [main_cell(table, key, t, MARKUP) for t in table.tasks] + [blurb_cell(table, key, MARKUP)]
    )
    caption = (r"Test score at the best-dev checkpoint, mean $\pm$ sample std over seeds (number of scores); "
               r"best per column in bold. BLURB: mean over task types of the mean over their tasks "
               r"($^*$: partial, some task types missing).")  # fmt: skip
    spec = "l" * len(labels) + "c" * (len(table.tasks) + 1)
    return _wrap(table, spec, header, body, caption, "tab:study")


def _instability_cells(table: StudyTable, key: RowKey) -> list[str]:
    cells = []
    for task in table.tasks:
        row = table.cells.get((key, task))
        if row is None:
            cells += [NONE] * len(INSTABILITY_COLUMNS)
        else:
            cells += [number_text(row.test.std, NONE), number_text(row.test.min, NONE), failed_text(row),
                      p_text(row, NONE).replace("<", "$<$")]  # fmt: skip
    return cells


def instability_table(table: StudyTable) -> str:
    labels, per_task = _labels(table), len(INSTABILITY_COLUMNS)
    header = _type_header(table, per_task, 0)
    first = len(labels) + 1
    tasks = [rf"\multicolumn{{{per_task}}}{{c}}{{{escape(t)}}}" for t in table.tasks]
    rules = [rf"\cmidrule(lr){{{first + i * per_task}-{first + (i + 1) * per_task - 1}}}" for i in range(len(tasks))]
    header += [" & ".join([""] * len(labels) + tasks) + r" \\", " ".join(rules)]
    header.append(" & ".join(labels + list(INSTABILITY_COLUMNS) * len(table.tasks)) + r" \\")
    body = _rows(table, lambda key: _instability_cells(table, key))
    caption = (r"Instability: sample std and min of the test score, failed runs $k/n$ with the Wilson 95\% "
               r"interval of the rate, and the Holm-adjusted $p$ of Brown-Forsythe against the reference "
               r"(ref: the reference itself).")  # fmt: skip
    spec = "l" * len(labels) + "c" * (per_task * len(table.tasks))
    return _wrap(table, spec, header, body, caption, "tab:study-instability")


def to_latex(table: StudyTable) -> str:
    """study_table.tex: the main table, then the instability table."""
    preamble = "% Written by `blurb-lab report --table study`; needs \\usepackage{booktabs}.\n"
    return preamble + main_table(table) + "\n" + instability_table(table)
