"""Sequence-level task types: one prediction per text or text pair, from the pooled sequence
(model.pooling: the encoder's pooler, the [CLS] state, or the mean of the last layer)."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from blurb_lab.tasks.base import Feature, TaskType, attention_mask, entropy, init_linear, pad
from blurb_lab.types import Record

if TYPE_CHECKING:  # torch inside the methods that make tensors: checking data needs none (base.py)
    import torch
    from torch import nn


class SequenceTask(TaskType):
    """Text or text-pair input encoded as [CLS] a [SEP] (b [SEP]), truncated to max_len."""

    def n_outputs(self) -> int:
        return max(1, len(self.labels))

    def check_record(self, record: Record) -> None:
        for field in self.cfg.text_fields:
            if not isinstance(record.get(field), str):
                raise self.fail(record, f"field '{field}' missing or not a string")
        if self.cfg.label_field not in record:
            raise self.fail(record, f"field '{self.cfg.label_field}' missing")
        self.gold(record)

    def texts(self, records: list[Record]) -> list[str]:
        return [r[f] for r in records for f in self.cfg.text_fields]

    def encode(self, records: list[Record], tokenizer: Any, max_len: int) -> dict[str, list]:
        columns = [[r[f] for r in records] for f in self.cfg.text_fields]
        enc = tokenizer(*columns, truncation=True, max_length=max_len)
        out = {"input_ids": list(enc["input_ids"])}
        if "token_type_ids" in enc:
            out["token_type_ids"] = list(enc["token_type_ids"])
        return out

    def features(self, records: list[Record], encoded: dict[str, list]) -> list[Feature]:
        feats = []
        for i, record in enumerate(records):
            feat: Feature = {"index": i, "record": i, "target": self.gold(record)}
            for key, values in encoded.items():
                feat[key] = values[i]
            feats.append(feat)
        return feats

    def collate(self, batch: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        import torch

        ids = pad([f["input_ids"] for f in batch], pad_id)
        out = {
            "input_ids": ids,
            "attention_mask": attention_mask(batch, ids.shape[1]),
            "index": torch.tensor([f["index"] for f in batch]),
            "target": torch.tensor([f["target"] for f in batch]),
        }
        if "token_type_ids" in batch[0]:
            out["token_type_ids"] = pad([f["token_type_ids"] for f in batch], 0)
        return out

    def build_head(self, hidden: int, dropout: float, pooling: str, own_pooler: bool, init_std: float) -> nn.Module:
        from blurb_lab.tasks.heads import SequenceHead

        head = SequenceHead(hidden, self.n_outputs(), dropout, pooling, own_pooler)
        init_linear(head, init_std)
        return head


class PairRegression(SequenceTask):
    """Sentence-pair similarity scored as a real number (BIOSSES), cross-encoded: MSE loss, Pearson.

    AdamW moves each weight by about lr per step, so a zero-started head trained with MSE on raw 0-4
    labels cannot reach their mean in a few dozen steps and predicts a near-constant. By default it
    therefore trains on z-scores of the train labels (`task.target_scaling=standardize`), whose mean
    is 0, and maps predictions back before scoring; with `none`, the output bias starts at the train
    mean instead.
    """

    center, scale = 0.0, 1.0  # targets are trained as (y - center) / scale

    def n_outputs(self) -> int:
        return 1

    def fit(self, train: list[Record]) -> None:
        values = [self.gold(r) for r in train]
        mean = statistics.fmean(values)
        if self.cfg.target_scaling == "standardize":
            std = statistics.pstdev(values) if len(values) > 1 else 0.0
            self.center, self.scale = mean, std if std > 0 else 1.0
        self.train_mean = mean

    def describe(self) -> dict[str, Any]:
        return {"target_scaling": {"mode": self.cfg.target_scaling, "center": self.center, "scale": self.scale}}

    def build_head(self, hidden: int, dropout: float, pooling: str, own_pooler: bool, init_std: float) -> nn.Module:
        from torch import nn

        head = super().build_head(hidden, dropout, pooling, own_pooler, init_std)
        if self.cfg.target_scaling == "none":
            nn.init.constant_(head.out.bias, self.train_mean)
        return head

    def trivial_loss(self, train: list[Record]) -> float:
        """MSE of the best constant (the train mean of the trained targets)."""
        return statistics.pvariance([(self.gold(r) - self.center) / self.scale for r in train])

    def target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return (batch["target"].float() - self.center) / self.scale

    def gold(self, record: Record) -> float:
        value = record.get(self.cfg.label_field)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.fail(record, f"label {value!r} is not a number")
        try:
            return float(value)
        except ValueError:
            raise self.fail(record, f"label {value!r} is not a number") from None

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        from torch import nn

        return nn.functional.mse_loss(logits.squeeze(-1).float(), self.target(batch))

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        return (logits.squeeze(-1).float() * self.scale + self.center).tolist()

    def metric_inputs(self, predictions: list[Any], golds: list[Any]) -> tuple[Any, Any]:
        import torch

        return torch.tensor(predictions, dtype=torch.float32), torch.tensor(golds, dtype=torch.float32)

    def from_json(self, value: Any, record: Record) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"prediction {value!r} is not a finite number")
        return float(value)


class Classification(SequenceTask):
    """One label per text or pair (ChemProt, DDI, GAD, PubMedQA, BioASQ): cross-entropy."""

    def gold(self, record: Record) -> int:
        return self.label_id(record, record.get(self.cfg.label_field))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        from torch import nn

        return nn.functional.cross_entropy(logits.float(), batch["target"])

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        return logits.argmax(-1).tolist()

    def trivial_predictions(self, train: list[Record], dev: list[Record]) -> list[Any] | None:
        from collections import Counter

        majority = Counter(self.gold(r) for r in train).most_common(1)[0][0]
        return [majority] * len(dev)

    def to_json(self, prediction: Any) -> Any:
        return self.labels[prediction]

    def from_json(self, value: Any, record: Record) -> Any:
        if str(value) not in self.label_index:
            raise ValueError(f"unknown label {value!r}; allowed: {', '.join(self.labels)}")
        return self.label_index[str(value)]


class MultiLabel(SequenceTask):
    """Any subset of the labels per text (HoC): sigmoid + threshold, binary cross-entropy."""

    def gold(self, record: Record) -> list[int]:
        value = record.get(self.cfg.label_field)
        if not isinstance(value, list) or len(value) != len(self.labels) or any(v not in (0, 1) for v in value):
            raise self.fail(record, f"label must be a list of {len(self.labels)} values 0/1, got {value!r}")
        return [int(v) for v in value]

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        from torch import nn

        return nn.functional.binary_cross_entropy_with_logits(logits.float(), batch["target"].float())

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        import torch

        return (torch.sigmoid(logits.float()) >= self.cfg.threshold).long().tolist()

    def trivial_predictions(self, train: list[Record], dev: list[Record]) -> list[Any] | None:
        golds = [self.gold(r) for r in train]
        majority = [int(2 * sum(column) > len(golds)) for column in zip(*golds, strict=True)]
        return [majority] * len(dev)

    def trivial_loss(self, train: list[Record]) -> float:
        """Mean binary cross-entropy of predicting each label's train rate."""
        columns = list(zip(*(self.gold(r) for r in train), strict=True))
        return statistics.fmean(entropy(list(column)) for column in columns)

    def to_json(self, prediction: Any) -> Any:
        return [label for label, on in zip(self.labels, prediction, strict=True) if on]

    def from_json(self, value: Any, record: Record) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"prediction {value!r} is not a list of labels")
        unknown = [v for v in value if str(v) not in self.label_index]
        if unknown:
            raise ValueError(f"unknown labels {unknown}; allowed: {', '.join(self.labels)}")
        chosen = {self.label_index[str(v)] for v in value}
        return [int(i in chosen) for i in range(len(self.labels))]


class BiEncoderRegression(PairRegression):
    """Sentence-pair similarity, bi-encoded (`task.pair_encoding=bi`): each sentence is encoded
    alone by the shared encoder and the pair scores the cosine of the two pooled vectors, trained
    with MSE against labels mapped from `task.label_range` onto [0, 1] and mapped back to score.

    It is how sentence-embedding models such as all-MiniLM-L6-v2 were trained, so fine-tuning
    starts from their zero-shot cosine score instead of a fresh head.
    """

    def fit(self, train: list[Record]) -> None:
        low, high = self.cfg.label_range
        self.center, self.scale = float(low), float(high) - float(low)

    def describe(self) -> dict[str, Any]:
        return {"target_scaling": {"mode": "label_range", "center": self.center, "scale": self.scale}}

    @property
    def encoding_tag(self) -> str:
        return "bi"

    def encode(self, records: list[Record], tokenizer: Any, max_len: int) -> dict[str, list]:
        first, second = self.cfg.text_fields
        a = tokenizer([r[first] for r in records], truncation=True, max_length=max_len)
        b = tokenizer([r[second] for r in records], truncation=True, max_length=max_len)
        return {"input_ids": list(a["input_ids"]), "input_ids_b": list(b["input_ids"])}

    def collate(self, batch: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        import torch

        out = {"index": torch.tensor([f["index"] for f in batch]), "target": torch.tensor([f["target"] for f in batch])}
        for suffix in ("", "_b"):
            ids = pad([f[f"input_ids{suffix}"] for f in batch], pad_id)
            widths = [len(f[f"input_ids{suffix}"]) for f in batch]
            mask = (torch.arange(ids.shape[1]).unsqueeze(0) < torch.tensor(widths).unsqueeze(1)).long()
            out[f"input_ids{suffix}"], out[f"attention_mask{suffix}"] = ids, mask
        return out

    def build_head(self, hidden: int, dropout: float, pooling: str, own_pooler: bool, init_std: float) -> nn.Module:
        from blurb_lab.tasks.heads import BiHead

        head = BiHead(hidden, pooling, own_pooler)
        init_linear(head, init_std)
        return head

    def forward(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        sides = []
        for suffix in ("", "_b"):
            mask = batch[f"attention_mask{suffix}"]
            sides.append((encoder(input_ids=batch[f"input_ids{suffix}"], attention_mask=mask), mask))
        return head(*sides)
