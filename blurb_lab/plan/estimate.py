"""One job's cost from its composed config, its counted tokens and the assumed throughput."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from omegaconf import DictConfig

from blurb_lab.config.batch import batch_split
from blurb_lab.gpu_math import jobs_per_device
from blurb_lab.plan.cards import Throughput
from blurb_lab.plan.flops import epochs_run, forward_flops, training_flops
from blurb_lab.plan.memory import disk_bytes, peak_bytes
from blurb_lab.plan.shape import encoder_shape
from blurb_lab.plan.tokens import TokenCounts


@dataclass(frozen=True)
class JobEstimate:
    overrides: list[str]
    model: str
    task: str
    tokenizer: str
    epochs: float  # epochs' worth of training data (limit_train_batches applied)
    train_examples: int  # per epoch
    tokens_per_epoch: int
    train_tokens: float  # over the whole job
    flops: float  # training
    eval_flops: float  # dev after every epoch, test once
    gpu_hours: float  # training and evaluation FLOPs at the plan's rate
    num_parameters: int
    per_device_batch: int
    longest: int
    peak_memory_bytes: int  # one rank
    jobs_per_gpu: int
    checkpoint_bytes: int  # the resume checkpoint, while the job runs
    kept_bytes: int  # what stays in the job dir

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def estimate_job(cfg: DictConfig, overrides: list[str], counted: TokenCounts, rate: Throughput) -> JobEstimate:
    """Tokens x epochs, their FLOPs (and evaluation's), the GPU-hours at `rate` (all of the job's
    devices together), one rank's peak memory at its per-device batch and longest sequence, its disk."""
    shape = encoder_shape(cfg.model)
    split = batch_split(cfg.data, cfg.trainer)
    train, dev, test = counted.train, counted.dev, counted.test
    epochs = epochs_run(cfg.trainer, train.examples, split.per_device * split.world)
    flops = training_flops(shape, train.tokens * epochs, train.square_tokens * epochs)
    evaluation = forward_flops(shape, dev.tokens * cfg.trainer.max_epochs + test.tokens,
                               dev.square_tokens * cfg.trainer.max_epochs + test.square_tokens)  # fmt: skip
    peak = peak_bytes(shape, split.per_device, train.longest, str(cfg.trainer.precision))
    disk = disk_bytes(shape, counted.predictions_bytes, bool(cfg.trainer.save_checkpoint))
    rate_flops = rate.tflops * 1e12
    return JobEstimate(
        overrides=list(overrides),
        model=str(cfg.model.name),
        task=str(cfg.task.name),
        tokenizer=counted.tokenizer,
        epochs=epochs,
        train_examples=train.examples,
        tokens_per_epoch=train.tokens,
        train_tokens=train.tokens * epochs,
        flops=flops,
        eval_flops=evaluation,
        gpu_hours=(flops + evaluation) / rate_flops / 3600 if rate_flops > 0 else float("inf"),
        num_parameters=shape.num_parameters,
        per_device_batch=split.per_device,
        longest=train.longest,
        peak_memory_bytes=peak,
        jobs_per_gpu=jobs_per_device(rate.memory_bytes, peak),
        checkpoint_bytes=disk["checkpoint_while_running"],
        kept_bytes=disk["kept"],
    )
