"""Parallel jobs on one machine: each running job holds one slot (a lock file), which picks its GPU
and its share of the CPU threads. On GPU trainers the slots are capped by the machine: GPUs x
`hydra.launcher.jobs_per_device`, so several small jobs may share one GPU but never a GPU that
does not exist. hydra/launcher=auto picks the number of jobs at once by one rule (`auto_layout`),
and its jobs take the same slots as the parallel launcher's."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blurb_lab.config.batch import GPU_ACCELERATORS, ranks


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
    """How many jobs a Hydra launcher runs at once on this machine (1 for sequential ones). Under
    hydra/launcher=auto, n_jobs is the launcher's choice for the batch, which it passes to each job."""
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
    import torch  # here: preflight counts GPUs only for GPU trainers, and needs no torch otherwise

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def uses_gpus(trainer_cfg: Any) -> bool:
    """A GPU trainer: accelerator gpu, or auto on a machine with a GPU (Lightning then picks CUDA),
    so a slot hands it a GPU as it does a gpu trainer, rather than every job landing on GPU 0."""
    return gpu_trainer(trainer_cfg, visible_gpus() if str(trainer_cfg.get("accelerator")) == "auto" else 0)


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
        asked = f"{ranks(devices)} GPU(s) asked for (trainer.accelerator={trainer_cfg.accelerator})"
        return f"trainer.devices: {asked}, but {have}"
    return None


_WATCHING: list[int] = []  # the parent this process watches, once started


def exit_with_parent(interval: float = 1.0) -> None:
    """End this process once its parent is gone. A parallel job runs in a worker process of the
    sweep; when the sweep is killed outright (SIGKILL, the OOM killer) the worker would go on
    computing as an orphan, racing a resumed sweep for the same job dir. Started once per process."""
    import threading
    import time

    if _WATCHING:
        return
    parent = os.getppid()
    _WATCHING.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def set_threads(num_threads: int, n_parallel: int) -> int:
    """torch threads for this job: as configured, else the cores split between parallel jobs."""
    import torch

    threads = num_threads or max(1, (os.cpu_count() or 1) // n_parallel)
    if num_threads or n_parallel > 1:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@dataclass(frozen=True)
class Layout:
    """How hydra/launcher=auto runs one batch of jobs on this machine."""

    at_once: int  # jobs that run at the same time; 1: one after another, in the sweep's own process
    threads: int  # torch threads of each job
    reason: str  # why, for the launcher's log line


@dataclass(frozen=True)
class Work:
    """A batch's estimated training FLOPs (None: unknown) and the least that runs CPU jobs side by side."""

    flops: float | None = None
    min_flops: float = 0.0

    def too_short(self) -> bool:
        return self.flops is not None and self.flops < self.min_flops


def auto_layout(
    n_jobs: int,
    cores: int,
    trainer: Any,
    n_gpus: int = 0,
    max_jobs: int = 0,
    jobs_per_device: int = 1,
    work: Work = Work(),
) -> Layout:
    """The rule of hydra/launcher=auto. One-thread jobs side by side finish more seeds per hour than
    jobs with all the cores one after another, because a small model's matmuls scale poorly across
    threads (measured in docs/performance.md, "The auto launcher's rule"). So on a CPU trainer: as
    many jobs at once as the batch, the cores at trainer.num_threads each (0: one) and max_jobs (0: no
    cap) allow, the cores left over split between them. A GPU trainer fills the GPUs (`_gpu_layout`).
    Multi-process (DDP) CPU trainers, multi-node trainers, a lone job and a CPU batch too short to
    pay for its workers' start-up (`work`: each worker imports the training stack and warms up
    before its first job ends) run one after another, as with the basic launcher."""
    cores = max(1, cores)
    accelerator = str(trainer.get("accelerator", "cpu"))
    fixed = int(trainer.get("num_threads") or 0)
    alone = fixed or cores
    if int(trainer.get("num_nodes") or 1) > 1:
        return Layout(1, alone, "multi-node trainer")
    if gpu_trainer(trainer, n_gpus):
        return _gpu_layout(n_jobs, cores, trainer, n_gpus, max_jobs, jobs_per_device)
    if accelerator not in ("cpu", "auto"):
        return Layout(1, alone, f"{accelerator} trainer")
    if ranks(trainer.get("devices", 1)) > 1 or "ddp" in str(trainer.get("strategy", "auto")):
        return Layout(1, alone, "multi-process (DDP) trainer")
    if n_jobs <= 1:
        return Layout(1, alone, "one job")
    if work.too_short():
        return Layout(1, alone, f"short jobs: ~{work.flops:.1e} training FLOPs, under min_flops={work.min_flops:.1e}")
    at_once = min(n_jobs, max(1, cores // (fixed or 1)))
    if max_jobs > 0:
        at_once = min(at_once, max_jobs)
    if at_once <= 1:
        return Layout(1, alone, f"{fixed} threads per job take all {cores} cores")
    return Layout(at_once, fixed or max(1, cores // at_once), "CPU trainer")


def gpu_trainer(trainer: Any, n_gpus: int) -> bool:
    """The rule's view of `uses_gpus`, with the GPU count given rather than read."""
    accelerator = str(trainer.get("accelerator", "cpu"))
    return accelerator in GPU_ACCELERATORS or (accelerator == "auto" and n_gpus > 0)


def _gpu_layout(n_jobs: int, cores: int, trainer: Any, n_gpus: int, max_jobs: int, jobs_per_device: int) -> Layout:
    """GPU jobs fill the node: one job per group of trainer.devices GPUs, times jobs_per_device, each
    in the slot that names its GPUs (`slot_devices`). A DDP job spawns its ranks from its worker
    process, so several groups train at once. The jobs wait on their GPUs, not on the cores: the
    cores are split between the jobs at once and do not cap them (trainer.num_threads, when set, is
    kept)."""
    per_job = ranks(trainer.get("devices", 1))
    fixed = int(trainer.get("num_threads") or 0)
    at_once = max(1, min(n_jobs, (n_gpus // per_job) * jobs_per_device))
    if max_jobs > 0:
        at_once = min(at_once, max_jobs)
    per_device = f"{jobs_per_device} job{'' if jobs_per_device == 1 else 's'} per device"
    reason = f"GPU trainer: {n_gpus} GPU{'' if n_gpus == 1 else 's'}, {per_job} per job, {per_device}"
    return Layout(at_once, fixed or max(1, cores // at_once), reason)


def batch_layout(
    n_jobs: int,
    cores: int,
    trainers: list[Any],
    n_gpus: int,
    max_jobs: int = 0,
    jobs_per_device: int = 1,
    work: Work = Work(),
) -> Layout:
    """The layout of a batch whose jobs may differ in trainer: the most cautious of theirs. GPU jobs
    asking for different GPU counts run one after another: their slots would name overlapping groups."""
    per_job = {ranks(t.get("devices", 1)) for t in trainers if gpu_trainer(t, n_gpus)}
    if len(per_job) > 1:
        return Layout(1, max(1, cores), "GPU jobs of different trainer.devices")
    layouts = (auto_layout(n_jobs, cores, t, n_gpus, max_jobs, jobs_per_device, work) for t in trainers)
    return min(layouts, key=lambda layout: layout.at_once)


def describe_layout(n_jobs: int, cores: int, layout: Layout) -> str:
    """The launcher's one log line, e.g. `launcher auto: 8 jobs, 2 at a time x 1 thread (2 cores)`."""
    jobs = f"{n_jobs} job{'' if n_jobs == 1 else 's'}"
    threads = f"{layout.threads} thread{'' if layout.threads == 1 else 's'}"
    how = f"{layout.at_once} at a time" if layout.at_once > 1 else "one after another"
    return f"launcher auto: {jobs}, {how} x {threads} ({cores} cores; {layout.reason})"


def describe_slot(slot: int | None, n_slots: int, threads: int, devices: Any, on_gpus: bool) -> str:
    """Where a job runs, for its console start line: `slot 1 of 2: 1 thread of 2 cores, CPU`
    (`GPU 3`, `GPUs 2,3` on a GPU trainer); no slot for a job run alone or one after another."""
    cores = os.cpu_count() or 1
    cpu = f"{threads} thread{'' if threads == 1 else 's'} of {cores} cores"
    if not on_gpus:
        n = ranks(devices)
        where = "CPU" if n == 1 else f"CPU, {n} ranks"
    elif isinstance(devices, (list, tuple)) or (hasattr(devices, "__len__") and not isinstance(devices, str)):
        ids = [str(d) for d in devices]
        where = f"GPU{'' if len(ids) == 1 else 's'} {','.join(ids)}"
    else:
        where = f"{ranks(devices)} GPU{'' if ranks(devices) == 1 else 's'}"
    return f"{cpu}, {where}" if slot is None else f"slot {slot} of {n_slots}: {cpu}, {where}"
