"""Task types: a task type decides the head, the loss, the metric and the collate; a task config
(conf/task/*.yaml) only names its files, its type, its labels and its metric.

Predictions flow the same way in training and in the evaluator: per-feature decode -> per-record
prediction (internal form) -> metric inputs; so a predictions file scores to the training number.

The task types import torch only inside the methods that make tensors (their heads live in
heads.py), so reading and checking data, which preflight does before every run, needs no torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from blurb_lab.errors import DataError
from blurb_lab.types import Record

if TYPE_CHECKING:  # torch and torchmetrics (which pulls scipy and matplotlib): only when training or scoring
    import torch
    import torchmetrics
    from torch import nn

Feature = dict[str, Any]


class TaskType:
    """Base class; subclasses fill in records, encoding, head, loss and prediction handling."""

    sequence_level = True  # one prediction per record (pooled), not per token

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.labels: list[str] = list(cfg.labels or [])
        self.label_index = {label: i for i, label in enumerate(self.labels)}

    # --- records -------------------------------------------------------------------------------
    def check_record(self, record: Record) -> None:
        """Raise DataError naming file and line when a record cannot be used."""
        self.gold(record)

    def gold(self, record: Record) -> Any:
        """The record's gold answer in internal form (what the metric compares)."""
        raise NotImplementedError

    def texts(self, records: list[Record]) -> list[str]:
        """Raw text, for building the vocabulary of random-init models."""
        raise NotImplementedError

    def fit(self, train: list[Record]) -> None:
        """Learn what the task needs from the train split before the head is built (target scale)."""

    def describe(self) -> dict[str, Any]:
        """How this run encodes inputs and targets, for results.json."""
        return {}

    @property
    def encoding_tag(self) -> str:
        """What, besides the tokenizer and the records, decides the cached tokenisation."""
        return type(self).__name__

    # --- features ------------------------------------------------------------------------------
    def encode(self, records: list[Record], tokenizer: Any, max_len: int) -> dict[str, list]:
        """Tokenise a split (the expensive, cached part). Plain lists, so the cache needs no pickle."""
        raise NotImplementedError

    def features(self, records: list[Record], encoded: dict[str, list]) -> list[Feature]:
        """Join cached tokenisation with gold answers; each feature has `index` and `record`."""
        raise NotImplementedError

    def collate(self, batch: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # --- model ---------------------------------------------------------------------------------
    def build_head(self, hidden: int, dropout: float, pooling: str, own_pooler: bool, init_std: float) -> nn.Module:
        """The task's head over the encoder; `own_pooler`: pooling=pooler but the encoder has none."""
        raise NotImplementedError

    def init_head(
        self, encoder: nn.Module, head: nn.Module, features: dict[str, list[Feature]], pad_id: int, cache_dir: str = ""
    ) -> None:
        """Set the head from the features of each split and the encoder as training will start
        (most heads start from their random init and need nothing); what it computes may be cached
        under cache_dir ("": not cached)."""

    def forward(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return head(encode_batch(encoder, batch), batch["attention_mask"])

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        """One prediction per feature of the batch, as plain Python values."""
        raise NotImplementedError

    def assemble(self, decoded: dict[int, Any], features: list[Feature], n_records: int) -> list[Any]:
        """Per-record predictions from per-feature ones (token tasks join their windows)."""
        out: list[Any] = [None] * n_records
        for feature in features:
            out[feature["record"]] = decoded[feature["index"]]
        return out

    # --- metric --------------------------------------------------------------------------------
    def metric(self) -> torchmetrics.Metric:
        from blurb_lab.metrics import build_metric

        return build_metric(
            self.cfg.metric,
            labels=self.labels or None,
            negative_label=self.cfg.negative_label,
            strict=self.cfg.strict_iob2,
        )

    def metric_inputs(self, predictions: list[Any], golds: list[Any]) -> tuple[Any, Any]:
        """Convert per-record predictions and golds to what the metric's update() takes."""
        import torch

        return torch.tensor(predictions), torch.tensor(golds)

    def score(self, predictions: list[Any], golds: list[Any]) -> float:
        metric = self.metric()
        metric.update(*self.metric_inputs(predictions, golds))
        return float(metric.compute())

    def trivial_predictions(self, train: list[Record], dev: list[Record]) -> list[Any] | None:
        """What a trivial predictor (majority class, all-O, constant) says for each dev record."""
        return None

    def trivial_score(self, train: list[Record], dev: list[Record]) -> float:
        """The dev score of the trivial predictor; a run that does no better has failed (Mosbach et al.).

        A constant regressor has no Pearson correlation: its score counts as 0.
        """
        predictions = self.trivial_predictions(train, dev)
        if predictions is None:
            return 0.0
        score = self.score(predictions, [self.gold(r) for r in dev])
        return score if math.isfinite(score) else 0.0

    def trivial_loss(self, train: list[Record]) -> float:
        """Training loss of the best constant predictor: the entropy of the train labels (CE tasks).

        A run whose final training loss is not below it never optimised (Mosbach et al. 2021).
        """
        return entropy([self.gold(r) for r in train])

    @staticmethod
    def is_failed(score: float | None, trivial: float) -> bool:
        return score is None or not math.isfinite(score) or score <= trivial + 1e-9

    # --- predictions files ---------------------------------------------------------------------
    def to_json(self, prediction: Any) -> Any:
        """Internal prediction -> the value written to predictions_*.jsonl."""
        return prediction

    def from_json(self, value: Any, record: Record) -> Any:
        """A predictions-file value -> internal prediction; raise ValueError when it is malformed."""
        return value

    # --- helpers -------------------------------------------------------------------------------
    @staticmethod
    def fail(record: Record, message: str) -> DataError:
        return DataError(record.get("_source", "<data>"), message, record.get("_line"))

    def label_id(self, record: Record, label: Any) -> int:
        key = str(label)
        if key not in self.label_index:
            raise self.fail(record, f"label {label!r} not in the task's labels {self.labels}")
        return self.label_index[key]


def entropy(labels: list[Any]) -> float:
    """Entropy (nats) of a label distribution: the cross-entropy of predicting its frequencies."""
    from collections import Counter

    counts = Counter(labels)
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())


def encode_batch(encoder: nn.Module, batch: dict[str, torch.Tensor]) -> Any:
    """The encoder's outputs for a collated batch (the inputs it takes, of those the batch has)."""
    return encoder(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch})


def pad(sequences: list[list[int]], value: int) -> torch.Tensor:
    """Right-pad to the longest sequence in the batch (dynamic padding)."""
    import torch

    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width), value, dtype=torch.long)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def attention_mask(batch: list[Feature], width: int) -> torch.Tensor:
    import torch

    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, feature in enumerate(batch):
        mask[row, : len(feature["input_ids"])] = 1
    return mask


def init_linear(module: nn.Module, std: float) -> None:
    """Initialise new head layers as the encoder's own layers were at pretraining."""
    from torch import nn

    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, mean=0.0, std=std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
