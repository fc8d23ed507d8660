"""Parallel jobs on one machine: each running job holds one slot (a lock file), which picks its GPU
and its share of the CPU threads. On GPU trainers the slots are capped by the machine: GPUs x
`hydra.launcher.jobs_per_device`, so several small jobs may share one GPU but never a GPU that
does not exist."""

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


GPU_ACCELERATORS = ("gpu", "cuda")


def parallel_jobs(launcher_cfg: Any) -> int:
    """How many jobs a Hydra launcher runs at once on this machine (1 for sequential ones)."""
    target = str(launcher_cfg.get("_target_", "")) if launcher_cfg is not None else ""
    if "joblib" in target.lower() or "parallel_launcher" in target.lower():
        n = int(launcher_cfg.get("n_jobs") or 1)
        return os.cpu_count() or 1 if n < 0 else n
    return 1


def jobs_per_device(launcher_cfg: Any) -> int:
    """Jobs that share one GPU (group of GPUs) under the parallel launcher; 1 for other launchers."""
    value = launcher_cfg.get("jobs_per_device") if launcher_cfg is not None else None
    return 1 if value is None else int(value)


def visible_gpus() -> int:
    """CUDA devices this process can see; the one place GPUs are counted, so tests can patch it."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def uses_gpus(trainer_cfg: Any) -> bool:
    return str(trainer_cfg.accelerator) in GPU_ACCELERATORS


def n_slots(launcher_cfg: Any, trainer_cfg: Any, n_gpus: int) -> int:
    """Jobs that run at once: the launcher's n_jobs, on GPU trainers capped by the machine's GPU
    groups (GPUs // devices per job) x jobs_per_device."""
    n = parallel_jobs(launcher_cfg)
    if n <= 1 or not uses_gpus(trainer_cfg):
        return n
    groups = max(1, n_gpus // ranks(trainer_cfg.devices))
    return max(1, min(n, groups * jobs_per_device(launcher_cfg)))


def slot_devices(slot: int, devices: Any, n_gpus: int) -> list[int]:
    """The GPU ids of a slot. Slots go round-robin over the groups of `ranks(devices)` GPUs, so the
    first jobs spread over the GPUs before any two share one."""
    per_job = ranks(devices)
    group = slot % max(1, n_gpus // per_job)
    return list(range(group * per_job, (group + 1) * per_job))


def gpu_request_error(trainer_cfg: Any, launcher_cfg: Any, n_gpus: int) -> str | None:
    """One line naming the key when a local run asks for GPUs this machine lacks, else None."""
    if launcher_cfg is not None and jobs_per_device(launcher_cfg) < 1:
        return f"hydra.launcher.jobs_per_device: {jobs_per_device(launcher_cfg)} is not allowed; must be >= 1"
    if not uses_gpus(trainer_cfg):
        return None
    devices = trainer_cfg.devices
    have = f"this machine has {n_gpus} GPU{'' if n_gpus == 1 else 's'}"
    if isinstance(devices, (list, tuple)) or (hasattr(devices, "__len__") and not isinstance(devices, str)):
        missing = [int(d) for d in devices if not 0 <= int(d) < n_gpus]
        if missing:
            return f"trainer.devices: GPU {missing[0]} asked for, but {have}"
        return None
    if ranks(devices) > n_gpus or n_gpus == 0:
        return f"trainer.devices: {ranks(devices)} GPU(s) asked for (trainer.accelerator=gpu), but {have}"
    return None


def set_threads(num_threads: int, n_parallel: int) -> int:
    """torch threads for this job: as configured, else the cores split between parallel jobs."""
    threads = num_threads or max(1, (os.cpu_count() or 1) // n_parallel)
    if num_threads or n_parallel > 1:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def gpu_count(accelerator: str, devices: Any) -> int:
    """GPUs per node a trainer config asks for (the SLURM preset's gpus_per_node)."""
    if accelerator not in GPU_ACCELERATORS:
        return 0
    return ranks(devices)


def ranks(devices: Any) -> int:
    """Processes a `trainer.devices` value asks for on one node (a count or a list of device ids)."""
    if isinstance(devices, (list, tuple)) or (hasattr(devices, "__len__") and not isinstance(devices, str)):
        return len(devices)
    return int(devices) if str(devices).lstrip("-").isdigit() and int(devices) > 0 else 1
