"""Scores over class ids: micro F1 over positive classes, positive-class F1, multi-label F1, accuracy."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from blurb_lab.metrics._counts import CountF1


def _check_ids(
    preds: torch.Tensor, target: torch.Tensor, num_classes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat integer class ids of equal length; ids out of range raise rather than count silently."""
    preds, target = torch.as_tensor(preds).reshape(-1), torch.as_tensor(target).reshape(-1)
    if preds.shape != target.shape:
        raise ValueError(f"got {preds.numel()} predictions but {target.numel()} gold labels")
    for name, ids in (("prediction", preds), ("gold label", target)):
        if ids.is_floating_point() or ids.is_complex():
            raise ValueError(f"every {name} must be an integer class id, got dtype {ids.dtype}")
        if ids.numel() and (ids.min() < 0 or (num_classes is not None and ids.max() >= num_classes)):
            raise ValueError(f"every {name} must be a class id in [0, {num_classes or 'inf'})")
    return preds.long(), target.long()


class MicroF1(CountF1):
    """Micro F1 over the positive classes (ChemProt, DDI), as BLURB scores relation extraction.

    The negative class ("no relation") is never a true positive, so predicting it everywhere scores
    0, not the accuracy of the majority class; a positive predicted for a negative pair is still a
    false positive, and a negative predicted for a positive pair a false negative. Equals sklearn
    `f1_score(labels=<all but the negative>, average="micro", zero_division=0)`.
    """

    def __init__(self, num_classes: int, negative_index: int | None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if negative_index is not None and not 0 <= negative_index < num_classes:
            raise ValueError(f"negative_index {negative_index} is not in [0, {num_classes})")
        self.num_classes = num_classes
        self.negative_index = negative_index

    def _positive(self, ids: torch.Tensor) -> torch.Tensor:
        if self.negative_index is None:
            return torch.ones_like(ids, dtype=torch.bool)
        return ids != self.negative_index

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = _check_ids(preds, target, self.num_classes)
        pred_pos, gold_pos = self._positive(preds), self._positive(target)
        self._add(((preds == target) & gold_pos).sum(), pred_pos.sum(), gold_pos.sum())


class BinaryF1(CountF1):
    """F1 of one class (GAD's positive "1"): sklearn `f1_score(pos_label=..., zero_division=0)`."""

    def __init__(self, positive_index: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.positive_index = positive_index

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = _check_ids(preds, target)
        pred_pos, gold_pos = preds == self.positive_index, target == self.positive_index
        self._add((pred_pos & gold_pos).sum(), pred_pos.sum(), gold_pos.sum())


class MultiLabelMicroF1(CountF1):
    """Micro F1 over every (document, label) decision of a multi-hot task (HoC's 10 hallmarks).

    A document with no label contributes only its false positives, as in sklearn
    `f1_score(average="micro", zero_division=0)` on the multi-hot arrays.
    """

    def __init__(self, num_labels: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.num_labels = num_labels

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = torch.as_tensor(preds), torch.as_tensor(target)
        if preds.shape != target.shape or preds.ndim != 2 or preds.shape[1] != self.num_labels:
            raise ValueError(
                f"expected predictions and gold of shape [N, {self.num_labels}], "
                f"got {tuple(preds.shape)} and {tuple(target.shape)}"
            )
        for name, values in (("prediction", preds), ("gold label", target)):
            if not ((values == 0) | (values == 1)).all():
                raise ValueError(f"every {name} must be 0 or 1 (threshold the scores first)")
        pred_pos, gold_pos = preds.bool(), target.bool()
        self._add((pred_pos & gold_pos).sum(), pred_pos.sum(), gold_pos.sum())


class Accuracy(Metric):
    """Fraction of exact class matches (PubMedQA, BioASQ); 0.0 before any example is seen."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    correct: torch.Tensor
    total: torch.Tensor

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_state("correct", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds, target = torch.as_tensor(preds).reshape(-1), torch.as_tensor(target).reshape(-1)
        if preds.shape != target.shape:
            raise ValueError(f"got {preds.numel()} predictions but {target.numel()} gold labels")
        self.correct += (preds == target).sum().to(self.correct.device)
        self.total += target.numel()

    def compute(self) -> torch.Tensor:
        if self.total == 0:
            return torch.tensor(0.0)
        return (self.correct.double() / self.total).float()
