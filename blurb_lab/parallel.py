"""Parallel jobs on one machine: each running job holds one slot (a lock file), which picks its GPU
and its share of the CPU threads, so K jobs at once never share a device."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


@contextlib.contextmanager
def device_slot(n_slots: int, lock_dir: Path) -> Iterator[int]:
    """Hold the first free slot in 0..n_slots-1 for the duration of a job."""
    import time

    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(n_slots):
            handle = open(lock_dir / f"slot-{slot}.lock", "w")  # noqa: SIM115 - held until the job ends
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield slot
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(0.2)  # more jobs than slots: wait for one to finish


def parallel_jobs(launcher_cfg: Any) -> int:
    """How many jobs a Hydra launcher runs at once on this machine (1 for sequential ones)."""
    target = str(launcher_cfg.get("_target_", "")) if launcher_cfg is not None else ""
    if "joblib" in target.lower():
        n = int(launcher_cfg.get("n_jobs") or 1)
        return os.cpu_count() or 1 if n < 0 else n
    return 1


def set_threads(num_threads: int, n_parallel: int) -> int:
    """torch threads for this job: as configured, else the cores split between parallel jobs."""
    threads = num_threads or max(1, (os.cpu_count() or 1) // n_parallel)
    if num_threads or n_parallel > 1:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def gpu_count(accelerator: str, devices: Any) -> int:
    if accelerator not in ("gpu", "cuda"):
        return 0
    return ranks(devices)


def ranks(devices: Any) -> int:
    """Processes a `trainer.devices` value asks for on one node (a count or a list of device ids)."""
    if isinstance(devices, (list, tuple)) or (hasattr(devices, "__len__") and not isinstance(devices, str)):
        return len(devices)
    return int(devices) if str(devices).lstrip("-").isdigit() and int(devices) > 0 else 1
