"""Start-up, timed: a callback factory for BLURB_LAB_CALLBACKS (blurb_lab/callbacks.py) whose callback
ends the process as the first training batch starts.

A job run with it costs exactly what a run pays before it trains (imports, Hydra, preflight, data,
weights, the head's set-up), so timing the process from outside measures start-up with no clock
inside it (docs/performance.md, "Start-up"). The process exits with status 0 and writes no results.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def factory(monitor: str) -> Any:
    """The callback; `monitor` (the dev metric) is not needed."""
    import pytorch_lightning as pl

    class FirstStep(pl.Callback):
        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    return FirstStep()
