"""One vector per sequence from an encoder's outputs, as the model was pretrained to give it.

`pooler` reads the encoder's own pooler (dense + tanh over [CLS], trained by BERT's NSP); a model
without one gets a fresh pooler of that shape. `cls` reads the [CLS] hidden state as it is
(ELECTRA). `mean` averages the last layer over real tokens (sentence-transformers models such as
all-MiniLM-L6-v2, whose checkpoint pooler was never trained).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blurb_lab.types import POOLINGS


class Pooling(nn.Module):
    def __init__(self, mode: str, hidden: int, own_pooler: bool) -> None:
        super().__init__()
        if mode not in POOLINGS:
            raise ValueError(f"pooling {mode!r} unknown; allowed: {', '.join(POOLINGS)}")
        self.mode = mode
        self.pooler = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh()) if mode == "pooler" and own_pooler else None

    def forward(self, outputs: Any, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = outputs.last_hidden_state
        if self.mode == "mean":
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        if self.mode == "cls":
            return hidden[:, 0]
        if self.pooler is not None:
            return self.pooler(hidden[:, 0])
        return outputs.pooler_output


def reads_encoder_pooler(mode: str, sequence_level: bool) -> bool:
    """Whether a head reads the encoder's pooler; when not, the pooler is dropped from the model
    (it would get no gradient: dead weights in the optimizer, an unused parameter under DDP)."""
    return sequence_level and mode == "pooler"
