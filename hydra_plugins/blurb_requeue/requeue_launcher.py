"""Requeued jobs resume inside themselves.

submitit answers the time-limit or preemption signal (SIGUSR2 by default; SLURM sends it
`signal_delay_s` before the limit) by asking the running callable for its `checkpoint`, requeueing
what that returns (`max_num_timeout` times at most for time limits). Hydra's launcher returns the same
call; these return it with `resume=true` added, so the requeued job continues from its last completed
epoch (blurb_lab/checkpoint.py) instead of starting over.
"""

from __future__ import annotations

from typing import Any

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher


def resumed(sweep_overrides: list[str]) -> list[str]:
    """The job's overrides, with resume=true in place of any resume= it had."""
    return [o for o in sweep_overrides if not o.lstrip("+~").startswith("resume=")] + ["resume=true"]


def _requeue_resuming(launcher: Any, sweep_overrides: list[str], *args: Any, **kwargs: Any) -> Any:
    import submitit

    return submitit.helpers.DelayedSubmission(launcher, resumed(sweep_overrides), *args, **kwargs)


class ResumingSlurmLauncher(SlurmLauncher):
    def checkpoint(self, sweep_overrides: list[str], *args: Any, **kwargs: Any) -> Any:
        return _requeue_resuming(self, sweep_overrides, *args, **kwargs)


class ResumingLocalLauncher(LocalLauncher):
    def checkpoint(self, sweep_overrides: list[str], *args: Any, **kwargs: Any) -> Any:
        return _requeue_resuming(self, sweep_overrides, *args, **kwargs)
