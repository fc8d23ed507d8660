"""`blurb-lab report <sweep dirs...> [--out DIR] [--table {summary,study}]`: merge the results of one or more
sweeps into the summary (default), or into the study's tables (model x strategy by BLURB task)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from blurb_lab.report.blurb_score import to_markdown as blurb_markdown
from blurb_lab.report.gather import find_results
from blurb_lab.report.markdown import to_markdown
from blurb_lab.report.plots import write_plots
from blurb_lab.report.rows import SummaryRow
from blurb_lab.report.study_report import STUDY_FILES, write_study_tables
from blurb_lab.report.summary import summarise, write_summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blurb-lab report", description=__doc__)
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep or job dirs holding results.json files")
    parser.add_argument("--out", type=Path, help="where the output files go (default: the first dir)")
    parser.add_argument(
        "--reference",
        help="configuration label or strategy each row is compared with (default: strategy=standard)",
    )
    parser.add_argument("--no-aso", action="store_true", help="skip Almost Stochastic Order (deepsig)")
    parser.add_argument(
        "--table",
        choices=("summary", "study"),
        default="summary",
        help="summary: summary.md/.csv/.json and plots; study: study_table.md/.csv/.tex (model x strategy rows, "
        "BLURB task columns, BLURB score, instability)",
    )
    return parser


def main(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    missing = [str(d) for d in args.dirs if not d.is_dir()]
    if missing:
        print(f"blurb-lab report: not a directory: {', '.join(missing)}", file=sys.stderr)
        sys.exit(2)
    results = find_results(args.dirs)
    # The study tables use no ASO (not part of their tests, and seconds per comparison).
    rows = summarise(results, args.reference, not args.no_aso and args.table == "summary")
    if not rows:
        print(f"blurb-lab report: no results.json under {', '.join(map(str, args.dirs))}", file=sys.stderr)
        sys.exit(2)
    out = args.out or args.dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    if args.table == "study":
        print(write_study_tables(out, rows, args.reference))
        print(f"written to {out}: {', '.join(STUDY_FILES)}")
        return
    _summary(out, results, rows, args)


def _summary(out: Path, results: list[dict[str, Any]], rows: list[SummaryRow], args: argparse.Namespace) -> None:
    scores = write_summary(out, rows, args.reference, not args.no_aso)
    images = write_plots(results, out)
    print(to_markdown(rows))
    if scores:
        print(blurb_markdown(scores))
    print(f"written to {out}: summary.md, summary.csv, summary.json, {', '.join(p.name for p in images)}")
