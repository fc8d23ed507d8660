"""Multi-process DDP for one job, the way torchrun would start it, plus evaluation gathering.

A job that asks for several devices on one machine starts its ranks itself (spawn, never a
re-run of the command line, so no rank can start a second sweep). Every rank runs the same job
body with Lightning's `ddp` strategy; Lightning reads the rank from the environment. Under
torchrun or SLURM the ranks already exist and nothing is spawned.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

RANK_VARS = ("LOCAL_RANK", "RANK", "SLURM_PROCID")


def launched_externally() -> bool:
    """True inside a rank started by torchrun, SLURM or by `spawn_ranks`."""
    return any(var in os.environ for var in RANK_VARS)


def wants_spawn(trainer_cfg: Any) -> bool:
    from blurb_lab.config.batch import ranks

    return str(trainer_cfg.strategy).startswith("ddp") and ranks(trainer_cfg.devices) > 1 and not launched_externally()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, threads: int, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
        LOCAL_RANK=str(rank), NODE_RANK="0",
    )  # fmt: skip
    torch.set_num_threads(threads)
    fn(*args)


def spawn_ranks(world: int, fn: Callable[..., Any], *args: Any) -> None:
    """Run fn(*args) in `world` fresh processes (CPU threads split between them)."""
    import multiprocessing

    import torch.multiprocessing as mp

    if multiprocessing.get_start_method(allow_none=True) not in (None, "fork", "spawn", "forkserver"):
        # A parallel sweep's worker (loky) names a start method that a fresh rank cannot rebuild.
        multiprocessing.set_start_method("spawn", force=True)

    threads = max(1, torch.get_num_threads() // world)
    mp.start_processes(_rank_main, args=(world, _free_port(), threads, fn, args), nprocs=world, start_method="spawn")


def gather_predictions(local: dict[int, Any]) -> dict[int, Any]:
    """All ranks' predictions by feature index. DistributedSampler pads the last batch with
    repeated examples; keying by index drops the repeats, so the metric equals one process's."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    parts: list[dict[int, Any] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, local)
    merged: dict[int, Any] = {}
    for part in parts:
        merged.update(part or {})
    return merged


def is_rank_zero() -> bool:
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))) == 0
