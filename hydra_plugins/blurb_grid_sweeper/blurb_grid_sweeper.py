"""Hydra's basic sweeper, plus `task_seeds`: a grid over tasks and `seed=range(1,11)` runs each task
with its own `task.n_seeds` (BLURB's protocol: 10 seeds for BIOSSES, PubMedQA and BioASQ, 5 for the
others) instead of every task at the longest count. Jobs keep Hydra's order and are numbered
consecutively; blurb_lab.sweep_jobs lists the same jobs for the preflight and `blurb-lab plan`.
"""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from hydra_plugins.blurb_grid_sweeper import config as _config  # noqa: F401  (registers the config)


class BlurbGridSweeper(BasicSweeper):
    def __init__(self, max_batch_size: int | None, params: dict[str, str] | None = None, task_seeds: bool = False):
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.task_seeds = task_seeds

    def split_arguments(self, overrides: list[Any], max_batch_size: int | None) -> list[list[list[str]]]:  # type: ignore[override]
        """Hydra's cross product, less each task's seeds past its count, cut into batches again."""
        jobs = BasicSweeper.split_arguments(overrides, None)[0]
        if self.task_seeds:
            from blurb_lab.sweep_jobs import keep_task_seeds

            jobs = keep_task_seeds(jobs, self._seed_count)
        size = max_batch_size or len(jobs) or 1
        return [jobs[i : i + size] for i in range(0, len(jobs), size)]

    def _seed_count(self, task_lines: tuple[str, ...]) -> int:
        assert self.hydra_context is not None and self.config is not None
        job = self.hydra_context.config_loader.load_sweep_config(self.config, list(task_lines))
        return int(job.task.n_seeds)
