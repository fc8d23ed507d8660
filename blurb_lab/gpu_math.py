"""The arithmetic and the verdicts of `make gpu-check`, torch-free, so that the CPU tests check what
the GPU run will compute: FLOPs per training token, the peak bf16 rate of a card class, MFU, how
many jobs fit on one card, whether two runs trained alike, and the exit code."""

from __future__ import annotations

import math
import re
from typing import Any

from blurb_lab.results import FINISHED_STATUSES

GIB = 1024**3

# Dense bf16 tensor-core peaks (no 2:4 sparsity) from NVIDIA's datasheets, in TFLOP/s. A card
# matches its first row whose words all occur in torch.cuda.get_device_name(); most specific first.
PEAK_BF16_TFLOPS: tuple[tuple[frozenset[str], float], ...] = (
    (frozenset({"H100", "PCIE"}), 756.0),
    (frozenset({"H100", "NVL"}), 835.0),
    (frozenset({"H100"}), 989.0),  # SXM
    (frozenset({"H200", "NVL"}), 835.0),
    (frozenset({"H200"}), 989.0),  # SXM
    (frozenset({"A100"}), 312.0),  # SXM and PCIe alike
    (frozenset({"L4"}), 121.0),
)

# jobs_per_device keeps this share of the card free: the caching allocator reserves more than it
# hands out (fragmentation), and evaluation batches and longer sequences than the measured step
# peak differently.
MEMORY_MARGIN = 0.2
# What each process holds that torch.cuda.max_memory_allocated does not count: the CUDA context,
# the loaded kernels and the cuBLAS workspaces.
PROCESS_OVERHEAD_BYTES = 1 * GIB


def matmul_params(layers: int, hidden: int, intermediate: int) -> int:
    """Weights of an encoder's matmuls: query, key, value and output (4 h^2) and the feed-forward
    pair (2 h x intermediate) per layer. Embeddings are lookups, not matmuls; biases and layer norms
    are element-wise and left out."""
    return layers * (4 * hidden * hidden + 2 * hidden * intermediate)


def flops_per_token(layers: int, hidden: int, intermediate: int, seq: int) -> int:
    """Training FLOPs per token of a bidirectional encoder at sequence length seq:
    6 N + 12 L T h, with N = matmul_params. A forward pass costs 2 FLOPs per weight per token (2 N)
    plus the attention's two seq x seq products (scores and scores x values: 2 x 2 T h per layer);
    the backward costs twice the forward (gradients of the inputs and of the weights)."""
    return 6 * matmul_params(layers, hidden, intermediate) + 12 * layers * seq * hidden


def peak_bf16_flops(device_name: str) -> float | None:
    """The card class's dense bf16 peak in FLOP/s, or None for a card not in the table (then only
    the achieved TFLOP/s is reported)."""
    words = set(re.split(r"[^A-Z0-9]+", device_name.upper()))
    for needed, tflops in PEAK_BF16_TFLOPS:
        if needed <= words:
            return tflops * 1e12
    return None


def mfu(achieved_flops: float, peak_flops: float | None) -> float | None:
    return None if peak_flops is None else achieved_flops / peak_flops


def jobs_per_device(
    card_bytes: int, job_peak_bytes: int, margin: float = MEMORY_MARGIN, overhead: int = PROCESS_OVERHEAD_BYTES
) -> int:
    """Jobs of this peak that fit on one card at once: the card less its margin, over each job's
    measured peak plus its process overhead (0 when not even one fits)."""
    return max(0, int(card_bytes * (1 - margin) // (job_peak_bytes + overhead)))


def curve_gap(a: list[Any] | None, b: list[Any] | None) -> float | None:
    """Largest absolute difference of two per-epoch curves; None when they cannot be compared
    (missing, other lengths, an empty or non-finite entry)."""
    if not a or not b or len(a) != len(b):
        return None
    values = [(x, y) for x, y in zip(a, b, strict=True)]
    if any(v is None or not math.isfinite(v) for pair in values for v in pair):
        return None
    return max(abs(x - y) for x, y in values)


def compare_runs(reference: dict[str, Any], other: dict[str, Any], tolerance: float) -> dict[str, Any]:
    """Two jobs' results.json: the same outcome (status: a learning gate may fail both alike, a crash
    is no outcome) and the same per-epoch training loss and dev score within tolerance."""
    train = curve_gap(reference.get("train_loss_curve"), other.get("train_loss_curve"))
    dev = curve_gap(reference.get("dev_curve"), other.get("dev_curve"))
    finished = reference.get("status") == other.get("status") and reference.get("status") in FINISHED_STATUSES
    ok = finished and train is not None and dev is not None and max(train, dev) <= tolerance
    return {"train_loss_gap": train, "dev_gap": dev, "ok": ok}


CORRECTNESS_CHECKS = ("determinism", "equality")


def failures(report: dict[str, Any]) -> list[str]:
    """The correctness checks that failed or never ran, and every step that raised."""
    failed = [name for name in CORRECTNESS_CHECKS if not (report.get(name) or {}).get("ok")]
    raised = [name for name, part in report.items() if isinstance(part, dict) and "error" in part]
    return failed + [name for name in raised if name not in failed]


def exit_code(report: dict[str, Any]) -> int:
    return 1 if failures(report) else 0
