"""Hydra callback: at the end of a multirun, summarise every job of the sweep (intervals, tests against the
`report.reference` configuration, expected validation performance), plot the per-seed scores, EVP and dev
curves, and (with logger.wandb) log one aggregate W&B run and make the sweep's W&B workspace
(blurb_lab/dashboard: online when the sweep logged online, else its spec for later)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class SummaryCallback(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        # Imported here: Hydra builds this callback as every run starts, and the summary's scipy and
        # matplotlib are only needed once a sweep ends.
        from blurb_lab.report import blurb_score
        from blurb_lab.report.gather import find_results
        from blurb_lab.report.markdown import to_markdown, to_seed_table
        from blurb_lab.report.plots import write_plots
        from blurb_lab.report.summary import summarise, write_summary

        sweep_dir = Path(config.hydra.sweep.dir)
        results = find_results([sweep_dir])
        reference = OmegaConf.select(config, "report.reference", default=None)
        aso = bool(OmegaConf.select(config, "report.aso", default=True))
        rows = summarise(results, reference, aso)
        if not rows:
            log.warning("no results.json under %s: nothing to summarise", sweep_dir)
            return
        scores = write_summary(sweep_dir, rows, reference, aso)
        images = write_plots(results, sweep_dir)
        print(f"\nPer seed ({sweep_dir}):\n")
        print(to_seed_table(results))
        print(f"\nSummary over seeds ({sweep_dir}/summary.md):\n")
        print(to_markdown(rows))
        if scores:
            print(blurb_score.to_markdown(scores))
        print(f"plots: {', '.join(p.name for p in images)}")
        if config.logger.wandb:
            from blurb_lab.dashboard.command import after_sweep
            from blurb_lab.report.wandb_summary import log_aggregate

            log_aggregate(config.logger, sweep_dir, rows, images)
            after_sweep(config.logger, sweep_dir)
        exit_if_all_crashed(results, sweep_dir)


def exit_if_all_crashed(results: list[dict[str, Any]], sweep_dir: Path) -> None:
    """A sweep goes on past crashed jobs and exits 0; only a sweep where every job crashed (none ran
    to its end) exits 1, with one line."""
    import sys

    from blurb_lab.results import CRASHED, outcome

    if results and all(outcome(r) == CRASHED for r in results):
        first = " ".join(str(next((r["error"] for r in results if r.get("error")), "see the job logs")).split())
        print(f"blurb-lab: every job of the sweep crashed ({len(results)}; first: {first}) in {sweep_dir}",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)
