"""What Python's cyclic garbage collector costs a training process, and how a job avoids it.

torch, Lightning (which imports torchmetrics and torch._dynamo) and transformers leave millions of
objects that live as long as the process. The collector walks all of them at every full collection
while they are being imported, and once more as the interpreter exits. Neither walk can find
garbage among them, so a job imports them with the collector paused and then freezes what they
made (`gc.freeze`: moved out of every later collection), and the CLI freezes what is left before
the interpreter exits. Numbers: docs/performance.md, "Start-up".
"""

from __future__ import annotations

import gc
import sys

# The modules a training job imports first and keeps for the life of the process.
TRAINING_STACK = ("torch", "pytorch_lightning", "transformers")


def import_training_stack() -> None:
    """Import the training stack once per process, without full collections on the way; what the
    imports made is frozen, so later collections (a sweep's many jobs) never walk it again."""
    if all(name in sys.modules for name in TRAINING_STACK):
        return
    gc.collect()  # the garbage made so far (Hydra's compositions) must not be frozen with the modules
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import pytorch_lightning  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def skip_exit_collection() -> None:
    """Freeze every object left as the CLI returns: the interpreter's exit then frees them without
    walking them (a process that imported the training stack saves more than a second); atexit
    handlers, W&B's among them, still run."""
    gc.freeze()
