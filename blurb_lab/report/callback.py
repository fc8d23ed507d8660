"""Hydra callback: at the end of a multirun, summarise every job of the sweep."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from blurb_lab.report import blurb_score
from blurb_lab.report.aggregate import find_results, summarise, to_markdown, write_summary

log = logging.getLogger(__name__)


class SummaryCallback(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = summarise(find_results([sweep_dir]))
        if not rows:
            log.warning("no results.json under %s: nothing to summarise", sweep_dir)
            return
        scores = write_summary(sweep_dir, rows)
        print(f"\nSummary over seeds ({sweep_dir}/summary.md):\n")
        print(to_markdown(rows))
        if scores:
            print(blurb_score.to_markdown(scores))
