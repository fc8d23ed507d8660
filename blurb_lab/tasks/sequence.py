"""Sequence-level task types: one prediction per text (or text pair) from the [CLS] position."""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from blurb_lab.data.readers import Record
from blurb_lab.tasks.base import Feature, TaskType, init_linear, pad


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

    def check_record(self, record: Record) -> None:
        for field in self.cfg.text_fields:
            if not isinstance(record.get(field), str):
                raise self.fail(record, f"field '{field}' missing or not a string")
        if self.cfg.label_field not in record:
            raise self.fail(record, f"field '{self.cfg.label_field}' missing")
        self.target(record)

    def target(self, record: Record) -> Any:
        raise NotImplementedError

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
            feat: Feature = {"index": i, "target": self.target(record)}
            for key, values in encoded.items():
                feat[key] = values[i]
            feats.append(feat)
        return feats

    def collate(self, batch: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        ids = pad([f["input_ids"] for f in batch], pad_id)
        mask = torch.zeros_like(ids)
        for row, feat in enumerate(batch):
            mask[row, : len(feat["input_ids"])] = 1
        out = {
            "input_ids": ids,
            "attention_mask": mask,
            "index": torch.tensor([f["index"] for f in batch]),
            "target": torch.tensor([f["target"] for f in batch]),
        }
        if "token_type_ids" in batch[0]:
            out["token_type_ids"] = pad([f["token_type_ids"] for f in batch], 0)
        return out

    def build_head(self, hidden: int, dropout: float, own_pooler: bool, init_std: float) -> nn.Module:
        head = SequenceHead(hidden, self.n_outputs, dropout, own_pooler)
        init_linear(head, init_std)
        return head


class PairRegression(SequenceTask):
    """Sentence-pair similarity scored as a real number (BIOSSES): MSE loss, Pearson metric."""

    def target(self, record: Record) -> float:
        value = record[self.cfg.label_field]
        try:
            return float(value)
        except (TypeError, ValueError):
            raise self.fail(record, f"label {value!r} is not a number") from None

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(logits.squeeze(-1).float(), batch["target"].float())

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.squeeze(-1).float()

    def metric(self) -> torchmetrics.Metric:
        return torchmetrics.PearsonCorrCoef()

    def prediction_row(self, record: Record, prediction: Any) -> dict[str, Any]:
        return {"id": record.get("id"), "label": self.target(record), "prediction": float(prediction)}
