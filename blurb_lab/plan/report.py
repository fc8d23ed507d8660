"""A plan as a table for the terminal and as plan.json: jobs with the same cost share a row."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from blurb_lab.gpu_math import GIB, MEMORY_MARGIN, PROCESS_OVERHEAD_BYTES
from blurb_lab.plan.cards import Throughput
from blurb_lab.plan.estimate import JobEstimate
from blurb_lab.plan.memory import ACTIVATION_BYTES_PER_HIDDEN, ATTENTION_BYTES_PER_HEAD, STATE_BYTES_PER_PARAM

FORMULAS = {
    "train_tokens": "non-pad tokens of the training features (both sequences of a bi-encoded pair) x epochs",
    "flops": "6 N x tokens + 12 L h x sum(T_i^2) per epoch x epochs; N = L (4 h^2 + 2 h i) matmul weights",
    "eval_flops": "a third of the training formula over dev tokens x epochs + test tokens (forward only)",
    "gpu_hours": "(flops + eval_flops) / (peak x MFU), or / --tflops; a job's start-up is not counted",
    "peak_memory": f"{STATE_BYTES_PER_PARAM} B/param (fp32 weights, grads, AdamW m and v) + 2 B/param autocast copies "
    f"(mixed precision) + L b s h ({ACTIVATION_BYTES_PER_HIDDEN} + {ATTENTION_BYTES_PER_HEAD} a s / h) B of "
    "activations (x2 at 32-bit), b the per-device batch, s the longest sequence",
    "jobs_per_gpu": f"card x (1 - {MEMORY_MARGIN}) // (peak + {PROCESS_OVERHEAD_BYTES // GIB} GiB per process)",
    "disk": "resume checkpoint 16 B/param while a job runs (removed at its end); kept: predictions + results",
}
COLUMNS = ("jobs", "model", "task", "epochs", "tokens/job", "PFLOP/job", "GPU-h/job", "peak GiB/job", "jobs/GPU",
           "ckpt GB/job")  # fmt: skip


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def _row_key(job: JobEstimate) -> tuple[Any, ...]:
    return (job.model, job.task, job.epochs, job.tokens_per_epoch, job.peak_memory_bytes, job.checkpoint_bytes)


def rows(jobs: list[JobEstimate]) -> list[tuple[int, JobEstimate]]:
    """(count, first job) per distinct cost, in the order the sweep runs them."""
    counts = Counter(_row_key(job) for job in jobs)
    first: dict[tuple[Any, ...], JobEstimate] = {}
    for job in jobs:
        first.setdefault(_row_key(job), job)
    return [(counts[key], job) for key, job in first.items()]


def totals(jobs: list[JobEstimate], rate: Throughput) -> dict[str, Any]:
    return {
        "jobs": len(jobs),
        "train_tokens": sum(j.train_tokens for j in jobs),
        "flops": sum(j.flops for j in jobs),
        "eval_flops": sum(j.eval_flops for j in jobs),
        "gpu_hours": sum(j.gpu_hours for j in jobs),
        "jobs_per_gpu": min((j.jobs_per_gpu for j in jobs), default=0),
        "checkpoint_bytes_per_running_job": max((j.checkpoint_bytes for j in jobs), default=0),
        "kept_bytes": sum(j.kept_bytes for j in jobs),
        "throughput": asdict(rate),
    }


def table(jobs: list[JobEstimate], rate: Throughput) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for count, job in rows(jobs):
        cells = (count, job.model, job.task, f"{job.epochs:g}", _si(job.train_tokens), f"{job.flops / 1e15:.3g}",
                 f"{job.gpu_hours:.3g}", f"{job.peak_memory_bytes / GIB:.2f}", job.jobs_per_gpu,
                 f"{job.checkpoint_bytes / 1e9:.2f}")  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    total = totals(jobs, rate)
    lines += [
        "",
        f"jobs: {total['jobs']}; training tokens: {_si(total['train_tokens'])}; training FLOPs: {total['flops']:.3g}"
        f" (+ {total['eval_flops']:.3g} evaluating)",
        f"GPU-hours: {total['gpu_hours']:.3g} at {rate.tflops:.3g} TFLOP/s ({rate.source})",
        f"jobs per GPU ({rate.card}, {rate.memory_bytes / GIB:.0f} GiB): {total['jobs_per_gpu']} at the largest job's "
        f"peak; disk: {total['checkpoint_bytes_per_running_job'] / 1e9:.2f} GB of resume checkpoint per running job, "
        f"{total['kept_bytes'] / 1e6:.3g} MB kept after the sweep",
    ]
    proxies = sorted({j.tokenizer for j in jobs if "proxy" in j.tokenizer})
    lines += [f"tokens counted with {p}: an estimate" for p in proxies]
    return "\n".join(lines)


def plan_json(jobs: list[JobEstimate], rate: Throughput, command: list[str]) -> dict[str, Any]:
    return {"command": command, "formulas": FORMULAS, "totals": totals(jobs, rate), "jobs": [j.to_json() for j in jobs]}
