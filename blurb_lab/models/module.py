"""The LightningModule: a pretrained encoder, a task head, the strategy's parameter groups, AdamW
with linear warm-up and decay, and the task's BLURB metric on dev and test."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from blurb_lab.distributed import gather_predictions
from blurb_lab.strategies.layers import find_layers

log = logging.getLogger(__name__)


def grad_units(encoder: nn.Module, head: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """(name, parameters) of embeddings, each block, the pooler and the head, for gradient norms."""
    layers = find_layers(encoder)
    units = [("embeddings", [p for m in layers.embeddings for p in m.parameters()])]
    units += [(f"block_{i:02d}", list(block.parameters())) for i, block in enumerate(layers.blocks, start=1)]
    if layers.pooler is not None:
        units.append(("pooler", list(layers.pooler.parameters())))
    units.append(("head", list(head.parameters())))
    return units


def linear_warmup_decay(total_steps: int, warmup_steps: int):
    """LR multiplier: 0 -> 1 over the warm-up, then linearly back to 0 at the last step."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


class FineTuner(pl.LightningModule):
    def __init__(
        self,
        encoder: nn.Module,
        head: nn.Module,
        task_type: Any,
        param_groups: list[dict[str, Any]],
        optim: Any,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.task_type = task_type
        self.param_groups = param_groups
        self.optim = optim
        self.metric_name = task_type.cfg.metric
        self._decoded: dict[int, Any] = {}
        self.test_predictions: list[Any] = []
        self.dev_curve: list[float] = []
        self.train_loss_curve: list[float] = []  # mean training loss per epoch
        self._epoch_loss: list[float] = []
        self.diverged_at: int | None = None
        self.grad_units = grad_units(encoder, head)  # before any torch.compile wraps the encoder

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.task_type.forward(self.encoder, self.head, batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss = self.task_type.loss(self(batch), batch)
        # One decision for all ranks, in this step: a rank that stopped alone would leave the others
        # waiting in the gradient all-reduce (one collective per step; free in a single process).
        if self.trainer.strategy.reduce_boolean_decision(not bool(torch.isfinite(loss)), all=False):
            # A NaN/inf loss would poison every later step: stop now and say where.
            self.diverged_at = self.global_step
            self.trainer.should_stop = True
            return None if self.trainer.world_size == 1 else self._no_gradient()
        self.log("train/loss", loss, on_step=True, on_epoch=False, batch_size=len(batch["index"]))
        self._epoch_loss.append(float(loss.detach()))
        return loss

    def _no_gradient(self) -> torch.Tensor:
        """A loss whose gradient is zero for every parameter, even non-finite ones: under DDP every
        rank must run its backward (Lightning refuses a skipped step), and the all-reduce stays finite."""
        return sum((torch.nan_to_num(p) * 0).sum() for p in self.parameters() if p.requires_grad)

    def on_train_epoch_end(self) -> None:
        self.close_train_epoch()

    def close_train_epoch(self) -> None:
        """The epoch's mean training loss joins the curve, once (the resume checkpoint asks first).
        The mean is over every rank's micro-batches: each rank runs as many, so under DDP or gradient
        accumulation the curve is the one a single process at the global batch would log."""
        if self._epoch_loss:
            mean = sum(self._epoch_loss) / len(self._epoch_loss)
            if self.trainer.world_size > 1:
                local = torch.tensor(mean, dtype=torch.float64, device=self.device)
                mean = float(self.trainer.strategy.reduce(local, reduce_op="mean"))
            self.train_loss_curve.append(mean)
        self._epoch_loss = []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from blurb_lab.checkpoint import rng_states

        checkpoint["blurb_lab"] = {"dev_curve": self.dev_curve, "train_loss_curve": self.train_loss_curve,
                                   "rng": rng_states()}  # fmt: skip

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from blurb_lab.checkpoint import set_rng_states

        saved = checkpoint["blurb_lab"]
        log.info("resume: continuing after epoch %d of its checkpoint", checkpoint["epoch"] + 1)
        self.dev_curve, self.train_loss_curve = list(saved["dev_curve"]), list(saved["train_loss_curve"])
        set_rng_states(saved["rng"])

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Per-layer gradient L2 norms (Mosbach et al.: failed runs show vanishing lower-layer gradients)."""
        if self.trainer.logger is None or self.global_step % self.trainer.log_every_n_steps:
            return
        for name, params in self.grad_units:
            grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
            if grads:
                self.log(f"grad_norm/{name}", torch.stack(grads).norm(), on_step=True, on_epoch=False)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._collect(batch)

    def on_validation_epoch_end(self) -> None:
        value = torch.tensor(self._epoch_score("dev")[0])
        self.log(f"dev/{self.metric_name}", value)
        if not self.trainer.sanity_checking:
            self.dev_curve.append(float(value))

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._collect(batch)

    def on_test_epoch_end(self) -> None:
        value, self.test_predictions = self._epoch_score("test")
        self.log(f"test/{self.metric_name}", torch.tensor(value))

    def _collect(self, batch: dict[str, torch.Tensor]) -> None:
        decoded = self.task_type.decode(self(batch), batch)
        self._decoded.update(zip(batch["index"].tolist(), decoded, strict=True))

    def _epoch_score(self, split: str) -> tuple[float, list[Any]]:
        """Score whole records (token tasks join their windows first), with the task's metric."""
        datamodule = self.trainer.datamodule
        records = datamodule.splits[split]
        decoded = gather_predictions(self._decoded)
        predictions = self.task_type.assemble(decoded, datamodule.features[split], len(records))
        self._decoded = {}
        golds = [self.task_type.gold(r) for r in records]
        return self.task_type.score(predictions, golds), predictions

    def configure_optimizers(self) -> dict[str, Any]:
        # The fused kernel (CPU and CUDA) updates all tensors in one pass instead of a Python loop over
        # them, the larger part of a CPU step for small models (docs/performance.md).
        optimizer = torch.optim.AdamW(
            self.param_groups, lr=self.optim.lr, betas=tuple(self.optim.betas), eps=self.optim.adam_eps, fused=True
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(math.ceil(self.optim.warmup_ratio * total))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_decay(total, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class EvalTimer(pl.Callback):
    """Seconds the dev evaluations of fit take (loader, forward, decode, gather, score), so
    results.json can say what share of a job evaluation is (eval_time_s); listed before BestWeights,
    so its copy of the weights is not counted."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.seconds = state_dict["seconds"]


class BestWeights(pl.Callback):
    """Keep the weights of the best dev epoch in memory, to test with them after fit.

    Cheaper than a checkpoint file per improvement (no optimizer state, no disk I/O); the job
    writes best.safetensors when trainer.save_checkpoint is set.
    """

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.best_score = -math.inf
        self.best_epoch: int | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        score = float(trainer.callback_metrics[self.monitor])
        if math.isfinite(score) and score > self.best_score:
            self.best_score = score
            self.best_epoch = trainer.current_epoch
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in pl_module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "state": self.state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score, self.best_epoch, self.state = (state_dict[k] for k in ("best_score", "best_epoch", "state"))

    def restore(self, pl_module: pl.LightningModule) -> None:
        if self.state is not None:
            pl_module.load_state_dict(self.state)
