"""Length-grouped training batches: batches of similar length waste little on padding.

Random chunks of `batch_size * group_batches` examples are sorted by length and cut into batches,
and the batch order is shuffled again, so batches stay random while padding shrinks. The batches
depend only on (seed, epoch): the same seed gives the same batches on every run.

`LengthGroupedBatchSampler` hands those batches to the DataLoader whole, so no batch straddles two
length groups; under DDP each rank takes whole batches (rank r: batches r, r + world, ...), padded
with the first batches so every rank steps the same number of times. Lightning must not wrap it
(the Trainer runs with use_distributed_sampler=False).

`LengthSortedBatchSampler` does the same for dev and test without the randomness: batches cut from
the examples sorted by length (data.sort_eval_by_length), since evaluation order never matters.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


class LengthGroupedSampler(Sampler[int]):
    """The flat index order (the order blurb_lab has always used), and the batches it is cut into."""

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

    def batches(self) -> list[list[int]]:
        """This epoch's batches, in training order; only the last batch of the last chunk is short."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches: list[list[int]] = []
        for start in range(0, len(order), self.group):
            chunk = sorted(order[start : start + self.group], key=lambda i: -self.lengths[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        return [batches[b] for b in torch.randperm(len(batches), generator=generator).tolist()]

    def __iter__(self) -> Iterator[int]:
        for batch in self.batches():
            yield from batch


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Whole length-grouped batches for this process (all of them without DDP)."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, group_batches: int = 50) -> None:
        # Lightning calls set_epoch on `batch_sampler.sampler`, as for torch's BatchSampler.
        self.sampler = LengthGroupedSampler(lengths, batch_size, seed, group_batches)
        self.batch_size = batch_size

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def _n_batches(self) -> int:
        return -(-len(self.sampler.lengths) // self.batch_size)

    def __len__(self) -> int:
        _, world = _rank_and_world()
        return -(-self._n_batches() // world)

    def __iter__(self) -> Iterator[list[int]]:
        rank, world = _rank_and_world()
        batches = self.sampler.batches()
        per_rank = -(-len(batches) // world)
        padded = batches + batches[: per_rank * world - len(batches)]
        yield from padded[rank::world]


def feature_length(feature: dict) -> int:
    """Tokens a feature pads to: its input ids (both sides of a bi-encoded pair)."""
    return sum(len(value) for key, value in feature.items() if key.startswith("input_ids"))


class LengthSortedBatchSampler(Sampler[list[int]]):
    """Evaluation batches cut from the examples sorted by length, longest first (ties in index order).

    Each batch pads to its own longest example, so dev and test pad almost nothing. Nothing about the
    results depends on the order: FineTuner keys every prediction by its feature index, and the task
    assembles records in record order. Under DDP rank r takes batches r, r + world, ...; ranks short
    of a batch repeat the shortest ones, so every rank steps the same number of times, and
    gather_predictions drops the repeats (as it drops DistributedSampler's).
    """

    def __init__(self, lengths: list[int], batch_size: int) -> None:
        order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
        self.batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def __len__(self) -> int:
        _, world = _rank_and_world()
        return -(-len(self.batches) // world)

    def __iter__(self) -> Iterator[list[int]]:
        rank, world = _rank_and_world()
        n = len(self.batches)
        extra = len(self) * world - n
        padded = self.batches + [self.batches[(n - 1 - k) % n] for k in range(extra)]
        yield from padded[rank::world]
