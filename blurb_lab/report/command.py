"""`blurb-lab report <sweep dirs...> [--out DIR]`: merge the results of one or more sweeps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from blurb_lab.report.blurb_score import to_markdown as blurb_markdown
from blurb_lab.report.gather import find_results
from blurb_lab.report.markdown import to_markdown
from blurb_lab.report.plots import write_plots
from blurb_lab.report.summary import summarise, write_summary


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="blurb-lab report", description=__doc__)
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep or job dirs holding results.json files")
    parser.add_argument("--out", type=Path, help="where summary.* go (default: the first dir)")
    parser.add_argument(
        "--reference",
        help="configuration label or strategy each row is compared with (default: strategy=standard)",
    )
    parser.add_argument("--no-aso", action="store_true", help="skip Almost Stochastic Order (deepsig)")
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.dirs if not d.is_dir()]
    if missing:
        print(f"blurb-lab report: not a directory: {', '.join(missing)}", file=sys.stderr)
        sys.exit(2)
    results = find_results(args.dirs)
    rows = summarise(results, args.reference, not args.no_aso)
    if not rows:
        print(f"blurb-lab report: no results.json under {', '.join(map(str, args.dirs))}", file=sys.stderr)
        sys.exit(2)
    out = args.out or args.dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    scores = write_summary(out, rows, args.reference, not args.no_aso)
    images = write_plots(results, out)
    print(to_markdown(rows))
    if scores:
        print(blurb_markdown(scores))
    print(f"written to {out}: summary.md, summary.csv, summary.json, {', '.join(p.name for p in images)}")
