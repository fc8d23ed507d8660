"""Length-grouped training batches: batches of similar length waste little on padding.

Random chunks of `batch_size * group_batches` examples are sorted by length and cut into batches,
and the batch order is shuffled again, so batches stay random while padding shrinks. The batches
depend only on (seed, epoch): the same seed gives the same batches on every run.

Those batches are global batches: `data.batch_size` examples per optimizer step, whatever the
hardware. `LengthGroupedBatchSampler` cuts each into world x accumulation micro-batches and hands this
rank its own, so one process at batch 16, two DDP ranks at 8 and one process accumulating 2 x 8 see
the same examples in each step, and every rank steps the same number of times. Lightning must not
wrap it (the Trainer runs with use_distributed_sampler=False).

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


class ShuffledBatches:
    """Seeded random batches without length grouping (data.group_by_length=false), for the split below."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.lengths = [0] * n  # only the count matters
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]


def micro_batches(batch: list[int], world: int, accumulation: int, rank: int) -> list[list[int]]:
    """This rank's share of one global batch: the batch cut into world x accumulation near-equal parts
    (sizes differ by at most one), rank r taking parts r, r + world, ... one per accumulation step. A
    batch shorter than the parts is cycled so that no part is empty."""
    parts = world * accumulation
    if len(batch) < parts:
        batch = [batch[i % len(batch)] for i in range(parts)]
    size, extra = divmod(len(batch), parts)
    bounds = [k * size + min(k, extra) for k in range(parts + 1)]
    return [batch[bounds[j] : bounds[j + 1]] for j in range(rank, parts, world)]


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """This process's micro-batches of the epoch's global batches (length-grouped, or shuffled)."""

    def __init__(
        self, lengths: list[int], batch_size: int, seed: int, group_batches: int = 50, accumulation: int = 1,
        grouped: bool = True,
    ) -> None:  # fmt: skip
        # Lightning calls set_epoch on `batch_sampler.sampler`, as for torch's BatchSampler.
        self.sampler: LengthGroupedSampler | ShuffledBatches = (
            LengthGroupedSampler(lengths, batch_size, seed, group_batches)
            if grouped
            else ShuffledBatches(len(lengths), batch_size, seed)
        )
        self.batch_size = batch_size
        self.accumulation = accumulation

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-len(self.sampler.lengths) // self.batch_size) * self.accumulation

    def __iter__(self) -> Iterator[list[int]]:
        rank, world = _rank_and_world()
        for batch in self.sampler.batches():
            yield from micro_batches(batch, world, self.accumulation, rank)


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
