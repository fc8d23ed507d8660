"""Faults injected into real jobs through BLURB_LAB_CALLBACKS (blurb_lab/callbacks.py), the hook every
launcher and every spawned rank carries: nothing test-only lives in the package."""

from __future__ import annotations

import os
from typing import Any

import pytorch_lightning as pl
import torch

FAULT_RANK = "BLURB_LAB_TEST_FAULT_RANK"
FAULT_STEP = "BLURB_LAB_TEST_FAULT_STEP"


class NonFiniteOnOneRank(pl.Callback):
    """Fills the head's weights with NaN on one rank at one step, so that rank alone sees a NaN loss."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_rank == self.rank and trainer.global_step == self.step:
            with torch.no_grad():
                for param in pl_module.head.parameters():
                    param.fill_(float("nan"))


def nan_on_one_rank(monitor: str) -> NonFiniteOnOneRank:
    return NonFiniteOnOneRank(int(os.environ.get(FAULT_RANK, "1")), int(os.environ.get(FAULT_STEP, "2")))
