"""Task types: a task type decides the head, the loss, the metric and the collate; a task config
(conf/task/*.yaml) only names its files, its type, its labels and its metric."""

from __future__ import annotations

import math
from typing import Any

import torch
import torchmetrics
from torch import nn

from blurb_lab.data.readers import Record
from blurb_lab.errors import DataError

Feature = dict[str, Any]


class TaskType:
    """Base class; subclasses fill in the label handling, loss and metric."""

    n_outputs: int = 1

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    # --- records -------------------------------------------------------------------------------
    def check_record(self, record: Record) -> None:
        raise NotImplementedError

    def texts(self, records: list[Record]) -> list[str]:
        """Raw text, for training the WordPiece vocabulary of random-init models."""
        raise NotImplementedError

    def encode(self, records: list[Record], tokenizer: Any, max_len: int) -> dict[str, list]:
        """Tokenise a split (the expensive, cached part). Lists, so the cache needs no pickle."""
        raise NotImplementedError

    def features(self, records: list[Record], encoded: dict[str, list]) -> list[Feature]:
        """Join the cached tokenisation with the labels into per-example features."""
        raise NotImplementedError

    def collate(self, batch: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # --- model ---------------------------------------------------------------------------------
    def build_head(self, hidden: int, dropout: float, own_pooler: bool, init_std: float) -> nn.Module:
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def metric(self) -> torchmetrics.Metric:
        raise NotImplementedError

    def is_trivial(self, score: float) -> bool:
        """True when a dev score is no better than a trivial predictor (a failed run)."""
        return not math.isfinite(score) or score <= 0.0

    def prediction_row(self, record: Record, prediction: Any) -> dict[str, Any]:
        return {"id": record.get("id"), "label": record.get(self.cfg.label_field), "prediction": prediction}

    # --- helpers -------------------------------------------------------------------------------
    @staticmethod
    def fail(record: Record, message: str) -> DataError:
        return DataError(record.get("_source", "<data>"), message, record.get("_line"))


def pad(sequences: list[list[int]], value: int) -> torch.Tensor:
    """Right-pad to the longest sequence in the batch (dynamic padding)."""
    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width), value, dtype=torch.long)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def init_linear(module: nn.Module, std: float) -> None:
    """Initialise new head layers as the encoder's own layers were at pretraining."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, mean=0.0, std=std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
