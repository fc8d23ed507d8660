"""Peak GPU memory of one rank of a job, and the disk a job uses, estimated from its shape. The
measured peak of a step is `make gpu-check`'s (blurb_lab/gpu_measure.py); these formulas are for a
sweep not yet run, on a card not yet at hand."""

from __future__ import annotations

from blurb_lab.plan.shape import Shape

# fp32 weights (4 bytes) + their gradients (4) + AdamW's two moments (4 + 4): every parameter is
# trained (a frozen one has no gradient or moments, so freezing makes this an upper bound).
STATE_BYTES_PER_PARAM = 16
# Mixed precision (bf16-mixed, 16-mixed): autocast keeps a 16-bit copy of each weight it multiplies.
AUTOCAST_COPY_BYTES = 2
# Activations kept for the backward, per block: s b h (34 + 5 a s / h) bytes with 16-bit activations
# and 1-byte dropout masks (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
# Transformer Models", eq. 1, no recomputation). 32-bit activations take about twice that.
ACTIVATION_BYTES_PER_HIDDEN = 34
ATTENTION_BYTES_PER_HEAD = 5
# The resume checkpoint (blurb_lab/checkpoint.py): weights, AdamW's two moments and the best-dev copy
# of the weights, 4 bytes each (docs/devices-and-clusters.md measured MiniLM's at 361 MB).
CHECKPOINT_BYTES_PER_PARAM = 16
BEST_WEIGHTS_BYTES_PER_PARAM = 4  # best.safetensors, with trainer.save_checkpoint=true
RESULTS_BYTES = 64 * 1024  # results.json (curves, per-epoch scores) and the job's logs, about


def mixed_precision(precision: str) -> bool:
    """Lightning's bf16-mixed and 16-mixed: fp32 weights, 16-bit activations."""
    return str(precision).endswith("-mixed")


def activation_bytes(shape: Shape, batch: int, seq: int, precision: str) -> int:
    """Activations a training step keeps for its backward: every block's, at `batch` sequences of
    `seq` tokens (the longest batch: dynamic padding pads each batch to its longest sequence)."""
    per_block = seq * batch * shape.hidden_size * ACTIVATION_BYTES_PER_HIDDEN
    per_block += ATTENTION_BYTES_PER_HEAD * shape.num_heads * seq * seq * batch
    scale = 1 if str(precision).startswith(("bf16", "16")) else 2
    return shape.num_layers * per_block * scale


def peak_bytes(shape: Shape, batch: int, seq: int, precision: str) -> int:
    """One rank's peak: weights, gradients and AdamW states (STATE_BYTES_PER_PARAM), autocast's
    16-bit weight copies under mixed precision, and the activations of the longest batch. The CUDA
    context and allocator margin are gpu_math.jobs_per_device's to add."""
    states = shape.num_parameters * STATE_BYTES_PER_PARAM
    if mixed_precision(precision):
        states += shape.num_parameters * AUTOCAST_COPY_BYTES
    return states + activation_bytes(shape, batch, seq, precision)


def disk_bytes(shape: Shape, predictions_bytes: int, save_checkpoint: bool) -> dict[str, int]:
    """What a job writes: the resume checkpoint while it runs (removed when it ends) and what stays."""
    kept = predictions_bytes + RESULTS_BYTES
    if save_checkpoint:
        kept += shape.num_parameters * BEST_WEIGHTS_BYTES_PER_PARAM
    return {"checkpoint_while_running": shape.num_parameters * CHECKPOINT_BYTES_PER_PARAM, "kept": kept}
