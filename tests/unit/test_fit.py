"""Training parts a result depends on: the learning-rate schedule, the best-dev weights that are tested,
and the checkpoint of those weights."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from blurb_lab.models.module import BestWeights, linear_warmup_decay

# --- the schedule -----------------------------------------------------------------------------------


def test_linear_warmup_decay_rises_to_the_peak_then_falls_to_zero():
    """100 steps with 10% warm-up (warmup_ratio=0.1): the multiplier of optim.lr at chosen steps."""
    factor = linear_warmup_decay(total_steps=100, warmup_steps=10)
    expected = {0: 0.1, 4: 0.5, 9: 1.0, 10: 1.0, 55: 0.5, 91: 0.1, 99: 1 / 90, 100: 0.0, 120: 0.0}
    assert {step: factor(step) for step in expected} == pytest.approx(expected, abs=1e-12)


def test_the_optimizer_follows_the_schedule():
    """Through LambdaLR as FineTuner uses it: peak lr at the end of the warm-up, then a straight line down."""
    lr, total, warmup = 2e-5, 50, math.ceil(0.1 * 50)
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_decay(total, warmup))
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(lr / warmup) and max(rates) == pytest.approx(lr)
    assert rates.index(max(rates)) == warmup - 1
    assert all(a < b for a, b in zip(rates[:warmup], rates[1:warmup], strict=False))
    steps_down = [a - b for a, b in zip(rates[warmup:], rates[warmup + 1 :], strict=False)]
    assert steps_down == pytest.approx([lr / (total - warmup)] * len(steps_down))  # linear
    assert rates[-1] == pytest.approx(lr / (total - warmup))  # the last step still learns; step `total` gets 0
    assert linear_warmup_decay(10, 0)(0) == 1.0  # no warm-up: start at the peak


# --- the best dev epoch's weights -------------------------------------------------------------------

SCORES = [0.2, 0.9, math.nan, 0.5]  # dev score per epoch: the best is epoch 1; a NaN epoch never wins


class Scripted(pl.LightningModule):
    """A one-weight regression that keeps learning every epoch and reports the scripted dev scores."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(1, 1)
        self.snapshots: list[dict[str, torch.Tensor]] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        pass

    def on_validation_epoch_end(self) -> None:
        sanity = self.trainer.sanity_checking
        self.log("dev/score", torch.tensor(5.0 if sanity else SCORES[self.current_epoch]))  # sanity: ignored
        if not sanity:
            self.snapshots.append({k: v.detach().clone() for k, v in self.state_dict().items()})

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_best_weights_restore_the_best_dev_epoch():
    torch.manual_seed(0)
    x = torch.randn(16, 1)
    data = DataLoader(TensorDataset(x, 3 * x + 1), batch_size=4)
    module, best = Scripted(), BestWeights("dev/score")
    trainer = pl.Trainer(max_epochs=len(SCORES), accelerator="cpu", logger=False, callbacks=[best],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=1)  # fmt: skip
    trainer.fit(module, train_dataloaders=data, val_dataloaders=data)
    assert (best.best_epoch, best.best_score) == (1, pytest.approx(0.9))
    last = {k: v.clone() for k, v in module.state_dict().items()}
    assert not torch.equal(last["layer.weight"], module.snapshots[1]["layer.weight"])  # it trained on
    best.restore(module)
    restored = module.state_dict()
    assert all(torch.equal(restored[k], module.snapshots[1][k]) for k in restored)
    with torch.no_grad():  # the kept weights are a copy, not the live tensors
        module.layer.weight.add_(1.0)
    assert torch.equal(best.state["layer.weight"], module.snapshots[1]["layer.weight"])


# --- trainer.save_checkpoint ------------------------------------------------------------------------
