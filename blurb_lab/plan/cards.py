"""The throughput a plan assumes: a card class's dense 16-bit peak times an MFU, where the MFU is the
one `make gpu-check` measured on that card class when its gpu_check.json is at hand, else a stated
assumption; or a rate given outright (--tflops)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blurb_lab.gpu_math import GIB, peak_bf16_flops


@dataclass(frozen=True)
class Card:
    device: str  # words gpu_math.peak_bf16_flops matches, as torch.cuda.get_device_name() gives them
    memory_gb: float  # the datasheet's memory (GB = 1e9 bytes: a little under what torch reports)
    peak_tflops: float | None = None  # for cards gpu_math's bf16 table lacks


# Peaks: gpu_math.PEAK_BF16_TFLOPS (NVIDIA datasheets, dense bf16) unless given here; memory: the
# datasheets. V100 has no bf16: its fp16 tensor-core peak (V100 SXM2 datasheet) stands in.
# A device matches the first key whose words its name holds: the 40 GB A100 before the 80 GB one.
CARDS = {
    "a100-40gb": Card("NVIDIA A100 40GB", 40),
    "a100": Card("NVIDIA A100 80GB", 80),
    "h100": Card("NVIDIA H100 SXM", 80),
    "h200": Card("NVIDIA H200", 141),
    "l4": Card("NVIDIA L4", 24),
    "a10": Card("NVIDIA A10", 24, 125.0),  # A10 datasheet, bf16 dense
    "v100": Card("Tesla V100 SXM2 32GB", 32, 125.0),  # fp16 tensor cores
}
DEFAULT_CARD = "a100"
# An assumed model-FLOPs utilisation for BERT-style fine-tuning in bf16 at 128-512 tokens; `make
# gpu-check` measures the real one on the card at hand (gpu_check.json, versus_trainer.mfu).
DEFAULT_MFU = 0.35
GPU_CHECK_GLOB = "multirun_outputs/gpu_check/*/gpu_check.json"


@dataclass(frozen=True)
class Throughput:
    card: str
    memory_bytes: int
    peak_tflops: float | None
    mfu: float | None
    tflops: float  # achieved training FLOP/s assumed, in TFLOP/s
    source: str  # where the rate comes from, in words


def peak_tflops(card: Card) -> float | None:
    if card.peak_tflops is not None:
        return card.peak_tflops
    peak = peak_bf16_flops(card.device)
    return None if peak is None else peak / 1e12


def _words(name: str) -> set[str]:
    return set(re.split(r"[^A-Z0-9]+", name.upper()))


def card_of(device_name: str) -> str | None:
    """The CARDS key of a torch device name: the first whose model and, if it names one, memory
    size the name holds ("NVIDIA A100-SXM4-40GB" -> a100-40gb)."""
    words = _words(device_name)
    for key, card in CARDS.items():
        model, *size = card.device.split()[1:]
        if model in words and (not size or size[0] != "40GB" or "40GB" in words):
            return key
    return None


def read_gpu_check(path: Path | None, root: Path) -> tuple[dict[str, Any] | None, Path | None]:
    """A gpu_check.json: the one given, else the newest under root's multirun_outputs (None, None
    when there is none)."""
    if path is None:
        found = sorted(root.glob(GPU_CHECK_GLOB), key=lambda p: p.stat().st_mtime)
        path = found[-1] if found else None
    if path is None:
        return None, None
    return json.loads(Path(path).read_text()), Path(path)


def measured_mfu(report: dict[str, Any] | None) -> float | None:
    """The MFU gpu-check measured on a real training job (MiniLM on NCBI, bf16), or None."""
    mfu = ((report or {}).get("versus_trainer") or {}).get("mfu")
    return float(mfu) if isinstance(mfu, (int, float)) else None


def throughput(
    card: str | None, mfu: float | None, tflops: float | None, report: dict[str, Any] | None, report_path: Path | None
) -> Throughput:
    """The rate: --tflops as given; else the card's peak x (--mfu, or gpu-check's MFU when its card is
    this class, or DEFAULT_MFU). The card: --gpu, else gpu-check's, else DEFAULT_CARD."""
    checked = card_of(str((report or {}).get("device", ""))) if report else None
    key = card or checked or DEFAULT_CARD
    spec = CARDS[key]
    measured_gib = ((report or {}).get("memory") or {}).get("card_memory_gib") if checked == key else None
    memory = int(measured_gib * GIB) if isinstance(measured_gib, (int, float)) else int(spec.memory_gb * 1e9)
    peak = peak_tflops(spec)
    if checked == key and peak_bf16_flops(str(report.get("device"))):  # the measured card's own peak
        peak = peak_bf16_flops(str(report.get("device"))) / 1e12
    if tflops is not None:
        return Throughput(key, memory, peak, None, tflops, f"{tflops:g} TFLOP/s as given (--tflops)")
    source = f"{spec.device}: peak {peak:g} TFLOP/s x MFU "
    if mfu is None and checked == key and measured_mfu(report) is not None:
        mfu = measured_mfu(report)
        source += f"{mfu:.3f} measured by make gpu-check ({report_path})"
    elif mfu is None:
        mfu = DEFAULT_MFU
        source += f"{mfu:g} (assumed; --mfu, or a gpu_check.json of this card, sets it)"
    else:
        source += f"{mfu:g} (--mfu)"
    return Throughput(key, memory, peak, mfu, (peak or 0.0) * mfu, source)
