"""Lightning callbacks that whoever starts a job asks for, named in the environment.

The Optuna sweeper hands its pruning callback in this way (through `hydra.job.env_set`, which every
launcher and every spawned rank carries), so blurb_lab never imports a Hydra plugin and the job's
config, and so its identity, stays the same. A callback that stopped the run as pruned says so in
its `pruned_at` attribute (the epoch); the job then records status `pruned` and skips its test.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from blurb_lab.errors import ConfigError

CALLBACKS_ENV = "BLURB_LAB_CALLBACKS"


def requested_callbacks(monitor: str) -> list[Any]:
    """One callback per factory named in BLURB_LAB_CALLBACKS ("package.module:function", comma
    separated), each called with the monitored dev metric; a factory returns None when it has
    nothing to do for this job."""
    callbacks = []
    for name in (n.strip() for n in os.environ.get(CALLBACKS_ENV, "").split(",")):
        if not name:
            continue
        module, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(CALLBACKS_ENV, f"cannot load callback factory {name!r} ({exc})") from None
        callback = factory(monitor)
        if callback is not None:
            callbacks.append(callback)
    return callbacks


def pruned_at(callbacks: list[Any]) -> int | None:
    """The epoch at which a callback pruned the run, or None when none did."""
    return next((cb.pruned_at for cb in callbacks if getattr(cb, "pruned_at", None) is not None), None)
