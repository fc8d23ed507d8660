"""The task heads, torch modules over the encoder's outputs: built when a model is, so that the task
types themselves (reading, checking and scoring records) import no torch and a data error ends
before torch loads."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blurb_lab.models.pooling import Pooling


class SequenceHead(nn.Module):
    """Pooling (model.pooling) -> dropout -> linear."""

    def __init__(self, hidden: int, n_out: int, dropout: float, pooling: str, own_pooler: bool) -> None:
        super().__init__()
        self.pool = Pooling(pooling, hidden, own_pooler)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_out)

    @property
    def pooler(self) -> nn.Module | None:
        """The head's own pooler (encoders without one), which the strategies treat as the pooler."""
        return self.pool.pooler

    def forward(self, outputs: Any, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.pool(outputs, attention_mask)))


class BiHead(nn.Module):
    """Siamese scoring: pool each sentence alone, score the cosine of the two vectors."""

    def __init__(self, hidden: int, pooling: str, own_pooler: bool) -> None:
        super().__init__()
        self.pool = Pooling(pooling, hidden, own_pooler)

    @property
    def pooler(self) -> nn.Module | None:
        return self.pool.pooler

    def forward(self, a: tuple[Any, torch.Tensor], b: tuple[Any, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cosine_similarity(self.pool(*a), self.pool(*b), dim=-1).unsqueeze(-1)


class TokenHead(nn.Module):
    def __init__(self, hidden: int, n_out: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, outputs: Any, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(outputs.last_hidden_state))


class CrossCosineHead(nn.Module):
    """The cosine of the two sentences' mean-pooled tokens inside one joint encoding, through a
    learned affine map onto the trained target (set by `CrossCosineRegression.init_head`)."""

    pooler = None  # no pooler of its own: the strategies see the encoder's (dropped: mean pooling)

    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(1, 1)

    @staticmethod
    def cosine(outputs: Any, segments: torch.Tensor) -> torch.Tensor:
        hidden = outputs.last_hidden_state
        sides = []
        for side in (0, 1):
            mask = (segments == side).unsqueeze(-1).to(hidden.dtype)
            sides.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))
        return nn.functional.cosine_similarity(sides[0], sides[1], dim=-1).unsqueeze(-1)

    def forward(self, outputs: Any, segments: torch.Tensor) -> torch.Tensor:
        return self.out(self.cosine(outputs, segments))
