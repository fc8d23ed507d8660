"""Training FLOPs of a job from its token counts, with the per-token formula of
blurb_lab/gpu_math.py (the one `make gpu-check` computes MFU with), so a plan and a measurement
speak of the same FLOPs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from blurb_lab.gpu_math import matmul_params
from blurb_lab.plan.shape import Shape


def training_flops(shape: Shape, tokens: float, square_tokens: float) -> float:
    """6 N x tokens + 12 L h x sum(T_i^2): gpu_math.flops_per_token (6 N + 12 L T h per token)
    summed over sequences of T_i tokens each, N = gpu_math.matmul_params (the blocks' matmul
    weights; embeddings are lookups). Forward and backward of every block; frozen blocks still run
    the backward of their inputs, so freezing is not subtracted (an upper bound), nor is the head."""
    n = matmul_params(shape.num_layers, shape.hidden_size, shape.intermediate_size)
    return 6 * n * tokens + 12 * shape.num_layers * shape.hidden_size * square_tokens


def forward_flops(shape: Shape, tokens: float, square_tokens: float) -> float:
    """An evaluation pass: the forward alone, a third of training_flops (2 N + 4 L T h per token)."""
    return training_flops(shape, tokens, square_tokens) / 3


def epochs_run(trainer: Any, examples: int, examples_per_batch: int) -> float:
    """Epochs' worth of training data a job sees: trainer.max_epochs, each cut short by
    trainer.limit_train_batches (a fraction, or a count of loader batches of examples_per_batch)."""
    limit = float(trainer.limit_train_batches)
    if limit <= 1:
        share = limit
    else:
        share = min(1.0, limit / max(1, math.ceil(examples / max(1, examples_per_batch))))
    return int(trainer.max_epochs) * share


# Bytes of a train file per token: JSON keys, quotes and labels make it an overestimate of the
# tokens, which errs towards running jobs side by side (blurb_lab.parallel.auto_layout).
BYTES_PER_TOKEN = 4


def rough_training_flops(cfg: Any) -> float | None:
    """A job's training FLOPs from its config and its train file's size alone, before anything is
    tokenised (what the auto launcher weighs against worker start-up); None when the file is not
    on disk (hub data) or the model's shape is unknown."""
    from blurb_lab.data.readers import split_file, task_dir
    from blurb_lab.errors import BlurbLabError
    from blurb_lab.plan.shape import encoder_shape

    if cfg.data.source == "hub":
        return None
    path = split_file(task_dir(cfg.data.root, cfg.task.name, cfg.task.dir), "train", cfg.task.format)
    try:
        data = path.read_bytes()
        shape = encoder_shape(cfg.model)
    except (OSError, BlurbLabError):
        return None
    tokens = len(data) / BYTES_PER_TOKEN
    records = max(1, data.count(b"\n\n") + 1 if cfg.task.format == "conll" else data.count(b"\n"))
    length = min(float(cfg.task.max_len), tokens / records)
    examples_per_batch = int(cfg.data.batch_size)
    epochs = epochs_run(cfg.trainer, records, examples_per_batch)
    return epochs * training_flops(shape, tokens, tokens * length)


def batch_training_flops(configs: Iterable[tuple[Any, int]]) -> float | None:
    """A batch's estimated training FLOPs from (job config, number of such jobs) pairs; None when one
    cannot be estimated (hub data) or its config does not resolve (the job itself reports that)."""
    from omegaconf.errors import OmegaConfBaseException

    total = 0.0
    for config, jobs in configs:
        try:
            flops = rough_training_flops(config)
        except OmegaConfBaseException:
            return None
        if flops is None:
            return None
        total += flops * jobs
    return total
