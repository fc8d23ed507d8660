"""OmegaConf resolvers used by conf/: where the data lives by default, recipe defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_data_root() -> str:
    """BLURB_DATA, else ../shared/blurb when it exists (beside cwd or the project), else data/blurb."""
    env = os.environ.get("BLURB_DATA")
    if env:
        return env
    for base in (Path.cwd(), PROJECT_ROOT):
        candidate = (base / ".." / "shared" / "blurb").resolve()
        if candidate.is_dir():
            return str(candidate)
    return "data/blurb"


def first_set(*values: Any) -> Any:
    """The first value that is not null: a model's recipe value, else the task's BLURB default."""
    return next((v for v in values if v is not None), None)


def register_resolvers() -> None:
    from blurb_lab.parallel import gpu_count, ranks

    resolvers = (
        ("blurb_data_root", default_data_root),
        ("blurb_gpus", gpu_count),
        ("blurb_ranks", ranks),
        ("blurb_first_set", first_set),
    )
    for name, fn in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
