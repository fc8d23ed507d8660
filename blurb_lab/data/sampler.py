"""Length-grouped training order: batches of similar length waste little on padding.

Random chunks of `batch_size * group_batches` examples are sorted by length and cut into batches,
and the batch order is shuffled again, so batches stay random while padding shrinks. The order
depends only on (seed, epoch): the same seed gives the same batches on every run.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class LengthGroupedSampler(Sampler[int]):
    def __init__(self, lengths: list[int], batch_size: int, seed: int, group_batches: int = 50) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.group = batch_size * group_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this each epoch, so every epoch gets a new (still seeded) order."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches: list[list[int]] = []
        for start in range(0, len(order), self.group):
            chunk = sorted(order[start : start + self.group], key=lambda i: -self.lengths[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        for b in torch.randperm(len(batches), generator=generator).tolist():
            yield from batches[b]
