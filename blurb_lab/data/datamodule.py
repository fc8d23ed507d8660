"""The LightningDataModule: split records -> cached tokenisation -> dynamically padded batches."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler

from blurb_lab.cache import cached, fingerprint, tokenizer_fingerprint
from blurb_lab.data.sampler import LengthGroupedBatchSampler, LengthSortedBatchSampler, feature_length
from blurb_lab.tasks.base import Feature, TaskType
from blurb_lab.types import Record

log = logging.getLogger(__name__)


def records_fingerprint(records: list[Record]) -> str:
    """Content identity of a split, so an edited data file never hits a stale cache entry."""
    return fingerprint([{k: v for k, v in r.items() if k != "_source"} for r in records])


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class BlurbDataModule(pl.LightningDataModule):
    def __init__(
        self,
        task_type: TaskType,
        splits: dict[str, list[Record]],
        tokenizer: Any,
        max_len: int,
        batch_size: int,
        eval_batch_size: int,
        cache_dir: str,
        seed: int,
        num_workers: int = 0,
        group_by_length: bool = True,
        sort_eval_by_length: bool = True,
        accumulation: int = 1,
    ) -> None:
        super().__init__()
        self.task_type = task_type
        self.splits = splits
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.cache_dir = cache_dir
        self.seed = seed
        self.num_workers = num_workers
        self.group_by_length = group_by_length
        self.sort_eval_by_length = sort_eval_by_length
        self.accumulation = accumulation  # batch_size is global: micro-batches per optimizer step
        self.features: dict[str, list[Feature]] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.features:
            return
        key = fingerprint(
            self.task_type.cfg.name,
            self.task_type.encoding_tag,
            tokenizer_fingerprint(self.tokenizer),
            self.max_len,
            {split: records_fingerprint(recs) for split, recs in self.splits.items()},
        )
        encoded = cached(self.cache_dir, f"{self.task_type.cfg.name}-tokens", key, self._encode_all)
        for split, records in self.splits.items():
            self.features[split] = self.task_type.features(records, encoded[split])
        log.info("data: %s", ", ".join(f"{s}={len(f)}" for s, f in self.features.items()))

    def _encode_all(self) -> dict[str, dict[str, list]]:
        return {
            split: self.task_type.encode(records, self.tokenizer, self.max_len)
            for split, records in self.splits.items()
        }

    def _sampler(self, features: list[Feature], shuffle: bool) -> Sampler[int] | None:
        """Example order: seeded random for training, in order for evaluation; under DDP each rank
        takes its share (evaluation pads with repeats, which gather_predictions drops)."""
        if _world() > 1:
            return DistributedSampler(features, shuffle=shuffle, seed=self.seed)
        if shuffle:
            return RandomSampler(features, generator=torch.Generator().manual_seed(self.seed))
        return None

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        """Training: length-grouped batches (or seeded random); dev and test: batches of examples
        sorted by length (or in order). Lightning does not touch these samplers (the Trainer has
        use_distributed_sampler=False)."""
        pad_id = self.tokenizer.pad_token_id
        features = self.features[split]
        common: dict[str, Any] = {
            "collate_fn": partial(self.task_type.collate, pad_id=pad_id if pad_id is not None else 0),
            "num_workers": self.num_workers,
            "persistent_workers": self.num_workers > 0,
        }
        split = shuffle and (self.group_by_length or self.accumulation > 1 or _world() > 1)
        if split:  # global batches cut into this rank's micro-batches (data.batch_size is global)
            lengths = [len(f["input_ids"]) for f in features]
            batches = LengthGroupedBatchSampler(
                lengths, batch_size, self.seed, accumulation=self.accumulation, grouped=self.group_by_length
            )
            return DataLoader(features, batch_sampler=batches, **common)
        if not shuffle and self.sort_eval_by_length:
            sorted_batches = LengthSortedBatchSampler([feature_length(f) for f in features], batch_size)
            return DataLoader(features, batch_sampler=sorted_batches, **common)
        return DataLoader(features, batch_size=batch_size, sampler=self._sampler(features, shuffle), **common)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("dev", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)
