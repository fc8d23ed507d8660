"""Resume inside a job: at each epoch end the job writes one resumable checkpoint into its job dir,
atomically (a temp file, then a rename), holding what makes the rest of the run equal to an
uninterrupted one: model, optimizer, scheduler and loop state (Lightning's), the module's curves and
RNG states, the best-dev weights. `resume=true` continues a killed job from its last completed epoch;
the checkpoint goes once the job has written its results (results.write_results), so a large study
does not fill the disk."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from blurb_lab.results import RESUME_CHECKPOINT


def rng_states() -> dict[str, Any]:
    """Every random stream a training step can draw from (dropout masks come from torch's)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # as plain values: loadable weights-only
    numpy_state = [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]
    states = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class EpochCheckpoint(pl.Callback):
    """Writes the job dir's resume checkpoint at an epoch end, after the epoch's validation, once
    `interval_s` seconds have passed since the job started or last wrote one (0: every epoch): a
    short job, which loses little when killed, does not pay a full write of its weights and optimizer
    every epoch."""

    def __init__(self, job_dir: Path, interval_s: float = 0.0) -> None:
        self.path = job_dir / RESUME_CHECKPOINT
        self.interval_s = interval_s
        self._last = time.monotonic()

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._last = time.monotonic()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        pl_module.close_train_epoch()  # the epoch's loss joins the curve before it is saved
        if trainer.should_stop or trainer.current_epoch + 1 >= (trainer.max_epochs or 0):
            return  # the run ends here (last epoch, diverged, pruned): nothing to resume
        due = time.monotonic() - self._last >= self.interval_s
        if not trainer.strategy.broadcast(due, src=0):  # rank 0's clock decides for every rank
            return
        partial = self.path.with_name(self.path.name + ".partial")
        trainer.save_checkpoint(partial, weights_only=False)  # rank 0 writes; every rank takes part
        self._last = time.monotonic()
        if trainer.is_global_zero:
            os.replace(partial, self.path)


def resume_from(job_dir: Path, resume: bool) -> str | None:
    """The checkpoint a `resume=true` job continues from, when a killed run of it left one."""
    path = job_dir / RESUME_CHECKPOINT
    return str(path) if resume and path.is_file() else None
