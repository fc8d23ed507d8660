"""The length-grouped training order: seeded, every example once per epoch, batches of similar length."""

from __future__ import annotations

import random

from blurb_lab.data.sampler import LengthGroupedBatchSampler, LengthGroupedSampler

N, BATCH, GROUP = 203, 8, 5  # 203 examples: chunks of 40, the last batch short
LENGTHS = random.Random(0).sample(range(5, 2000), N)  # all different, so "sorted" has one meaning


def padding(batches: list[list[int]]) -> int:
    """Pad tokens that dynamic padding adds to these batches."""
    return sum(max(LENGTHS[i] for i in b) * len(b) - sum(LENGTHS[i] for i in b) for b in batches)


def test_same_seed_same_batches_other_seed_or_epoch_others():
    first, again = LengthGroupedSampler(LENGTHS, BATCH, 7, GROUP), LengthGroupedSampler(LENGTHS, BATCH, 7, GROUP)
    assert first.batches() == again.batches() and list(first) == list(again)
    assert LengthGroupedSampler(LENGTHS, BATCH, 8, GROUP).batches() != first.batches()
    epoch_0 = first.batches()
    first.set_epoch(1)
    again.set_epoch(1)
    assert first.batches() != epoch_0 and first.batches() == again.batches()  # a new order, still seeded


def test_every_index_once_per_epoch():
    sampler = LengthGroupedSampler(LENGTHS, BATCH, 3, GROUP)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = sampler.batches()
        assert sorted(i for b in batches for i in b) == list(range(N))
        assert list(sampler) == [i for b in batches for i in b] and len(sampler) == N
        assert [len(b) for b in batches].count(BATCH) == len(batches) - 1  # one short batch: N % BATCH
        assert sorted(len(b) for b in batches)[0] == N % BATCH


def test_batches_are_grouped_by_length_and_shuffled():
    # One chunk holds every example: the batches are runs of the length order, none interleaves another.
    one_chunk = LengthGroupedSampler(LENGTHS, BATCH, 3, group_batches=-(-N // BATCH)).batches()
    spans = sorted((min(LENGTHS[i] for i in b), max(LENGTHS[i] for i in b)) for b in one_chunk)
    assert all(high < low for (_, high), (low, _) in zip(spans, spans[1:], strict=False))
    # Chunks of GROUP batches: far less padding than batches in file order.
    batches = LengthGroupedSampler(LENGTHS, BATCH, 3, GROUP).batches()
    in_file_order = [list(range(i, min(i + BATCH, N))) for i in range(0, N, BATCH)]
    assert padding(batches) < padding(in_file_order) / 3  # about a fifth here
    maxima = [max(LENGTHS[i] for i in b) for b in batches]
    assert maxima != sorted(maxima) and maxima != sorted(maxima, reverse=True)  # the batch order is random


def test_batch_sampler_hands_over_whole_batches():
    batch_sampler = LengthGroupedBatchSampler(LENGTHS, BATCH, 3, GROUP)
    assert list(batch_sampler) == LengthGroupedSampler(LENGTHS, BATCH, 3, GROUP).batches()
    assert len(batch_sampler) == len(list(batch_sampler)) == -(-N // BATCH)
    batch_sampler.set_epoch(2)
    other = LengthGroupedSampler(LENGTHS, BATCH, 3, GROUP)
    other.set_epoch(2)
    assert list(batch_sampler) == other.batches()
