"""Sequence-level task types: one prediction per text or text pair, from the [CLS] position."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blurb_lab.data.readers import Record
from blurb_lab.tasks.base import Feature, TaskType, attention_mask, init_linear, pad


class SequenceHead(nn.Module):
    """Pooler (the encoder's own when it has one, else a fresh dense+tanh) -> dropout -> linear."""

    def __init__(self, hidden: int, n_out: int, dropout: float, own_pooler: bool) -> None:
        super().__init__()
        self.pooler = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh()) if own_pooler else None
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, outputs: Any) -> torch.Tensor:
        if self.pooler is None:
            pooled = outputs.pooler_output
        else:
            pooled = self.pooler(outputs.last_hidden_state[:, 0])
        return self.out(self.dropout(pooled))


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

    def build_head(self, hidden: int, dropout: float, own_pooler: bool, init_std: float) -> nn.Module:
        head = SequenceHead(hidden, self.n_outputs(), dropout, own_pooler)
        init_linear(head, init_std)
        return head


class PairRegression(SequenceTask):
    """Sentence-pair similarity scored as a real number (BIOSSES): MSE loss, Pearson."""

    def n_outputs(self) -> int:
        return 1

    def gold(self, record: Record) -> float:
        value = record.get(self.cfg.label_field)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.fail(record, f"label {value!r} is not a number")
        try:
            return float(value)
        except ValueError:
            raise self.fail(record, f"label {value!r} is not a number") from None

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(logits.squeeze(-1).float(), batch["target"].float())

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        return logits.squeeze(-1).float().tolist()

    def metric_inputs(self, predictions: list[Any], golds: list[Any]) -> tuple[Any, Any]:
        return torch.tensor(predictions, dtype=torch.float32), torch.tensor(golds, dtype=torch.float32)

    def from_json(self, value: Any, record: Record) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"prediction {value!r} is not a number")
        return float(value)


class Classification(SequenceTask):
    """One label per text or pair (ChemProt, DDI, GAD, PubMedQA, BioASQ): cross-entropy."""

    def gold(self, record: Record) -> int:
        return self.label_id(record, record.get(self.cfg.label_field))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
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
        return nn.functional.binary_cross_entropy_with_logits(logits.float(), batch["target"].float())

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        return (torch.sigmoid(logits.float()) >= self.cfg.threshold).long().tolist()

    def trivial_predictions(self, train: list[Record], dev: list[Record]) -> list[Any] | None:
        golds = [self.gold(r) for r in train]
        majority = [int(2 * sum(column) > len(golds)) for column in zip(*golds, strict=True)]
        return [majority] * len(dev)

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
