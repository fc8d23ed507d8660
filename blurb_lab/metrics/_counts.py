"""The shared shape of BLURB's F1 scores: three summed counts, so a DDP sync is exact."""

from __future__ import annotations

import torch
from torchmetrics import Metric


def f1_from_counts(tp: torch.Tensor, n_pred: torch.Tensor, n_gold: torch.Tensor) -> torch.Tensor:
    """2·tp / (n_pred + n_gold), elementwise; 0.0 where both are 0.

    This equals 2PR/(P+R) and is the value scikit-learn and seqeval give with zero_division=0
    (seqeval's default `"warn"` also gives 0.0), without a division by zero to special-case.
    """
    denominator = (n_pred + n_gold).double()
    score = 2 * tp.double() / denominator.clamp(min=1)
    return torch.where(denominator > 0, score, torch.zeros_like(score)).float()


class CountF1(Metric):
    """F1 from scalar true-positive, predicted and gold counts, each summed across processes.

    Subclasses only say how a batch is counted (`update` calls `_add`). Counts, not per-batch scores, are kept
    because an F1 averaged over batches or ranks is not the F1 of the whole evaluation set.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    tp: torch.Tensor
    n_pred: torch.Tensor
    n_gold: torch.Tensor

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        for name in ("tp", "n_pred", "n_gold"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _add(self, tp: int | torch.Tensor, n_pred: int | torch.Tensor, n_gold: int | torch.Tensor) -> None:
        # counts may come from inputs on another device than the states (e.g. GPU logits, CPU metric)
        self.tp += torch.as_tensor(tp, device=self.tp.device)
        self.n_pred += torch.as_tensor(n_pred, device=self.n_pred.device)
        self.n_gold += torch.as_tensor(n_gold, device=self.n_gold.device)

    def compute(self) -> torch.Tensor:
        return f1_from_counts(self.tp, self.n_pred, self.n_gold)
