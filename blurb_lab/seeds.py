"""The seed keys of a run, listed once: the master `seed` and the three sub-seeds that follow it
unless set, so that weight initialisation, data order and dropout can be swept as a grid (Dodge et
al. 2020). Resume, a configuration's identity, validation and the report all read this list."""

from __future__ import annotations

from typing import Any

SEED_KEYS = ("seed", "seed_init", "seed_data", "seed_dropout")


def grid_seeds(result: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(seed, seed_init, seed_data) of a finished run, the seed grid the report decomposes; a sub-seed
    that is missing or null is the master seed, as in training."""
    seed = result.get("seed")
    return seed, *(seed if result.get(key) is None else result[key] for key in ("seed_init", "seed_data"))
