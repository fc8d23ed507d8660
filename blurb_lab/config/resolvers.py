"""OmegaConf resolvers used by conf/: where the data lives by default."""

from __future__ import annotations

import os
from pathlib import Path

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


def register_resolvers() -> None:
    from blurb_lab.parallel import gpu_count, ranks

    for name, fn in (("blurb_data_root", default_data_root), ("blurb_gpus", gpu_count), ("blurb_ranks", ranks)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
