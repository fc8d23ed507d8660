"""Readers on the real BIOSSES files and on malformed fixtures; the tokenisation cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from blurb_lab.config.schema import ModelConfig, TaskConfig
from blurb_lab.data.datamodule import BlurbDataModule
from blurb_lab.data.readers import cv_split, load_splits, read_hub_splits, read_jsonl, read_local_splits
from blurb_lab.errors import ConfigError, DataError
from blurb_lab.models.loading import load_tokenizer
from blurb_lab.tasks import get_task_type
from tests.conftest import SHARED_BLURB, needs_shared_blurb, write_jsonl


@needs_shared_blurb("biosses")
def test_real_biosses_has_64_16_20_pairs_with_scores_0_to_4():
    splits = read_local_splits(str(SHARED_BLURB), "biosses")
    assert {k: len(v) for k, v in splits.items()} == {"train": 64, "dev": 16, "test": 20}
    task_type = get_task_type(OmegaConf.structured(TaskConfig()))
    for records in splits.values():
        for record in records:
            task_type.check_record(record)
            assert 0.0 <= task_type.gold(record) <= 4.0
    assert abs(sum(r["label"] for r in splits["train"]) / 64 - 2.40) < 0.01  # docs/findings.md: mean 2.40


@pytest.mark.parametrize(
    "content,needle,line",
    [
        ('{"id": 1}\n{"id": 2\n', "bad JSON", 2),
        ("[1, 2]\n", "expected a JSON object", 1),
        ("\n\n", "empty split", None),
    ],
)
def test_malformed_jsonl_names_file_and_line(tmp_path: Path, content: str, needle: str, line):
    path = tmp_path / "train.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_jsonl(path)
    message = str(info.value)
    assert needle in message and str(path) in message
    assert info.value.line == line


def test_non_utf8_and_missing_files(tmp_path: Path):
    bad = tmp_path / "train.jsonl"
    bad.write_bytes(b'{"id": "\xff"}\n')
    with pytest.raises(DataError, match="not UTF-8"):
        read_jsonl(bad)
    with pytest.raises(DataError, match="file not found"):
        read_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="task folder not found"):
        read_local_splits(str(tmp_path), "biosses")


@pytest.mark.parametrize(
    "record,needle",
    [
        ({"id": "x", "sentence2": "b", "label": 1.0}, "field 'sentence1' missing"),
        ({"id": "x", "sentence1": "a", "sentence2": "b"}, "field 'label' missing"),
        ({"id": "x", "sentence1": "a", "sentence2": "b", "label": "high"}, "is not a number"),
    ],
)
def test_bad_records_name_file_and_line(tmp_path: Path, record: dict, needle: str):
    path = tmp_path / "dev.jsonl"
    write_jsonl(path, [{"id": "ok", "sentence1": "a", "sentence2": "b", "label": 2.0}, record])
    task_type = get_task_type(OmegaConf.structured(TaskConfig()))
    records = read_jsonl(path)
    task_type.check_record(records[0])
    with pytest.raises(DataError) as info:
        task_type.check_record(records[1])
    assert needle in str(info.value) and f"{path}:2" in str(info.value)


def test_hub_reader_on_a_local_folder_laid_out_as_the_hub(data_root: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    hub = tmp_path / "hub_biosses"
    for split, theirs in (("train", "train"), ("dev", "validation"), ("test", "test")):
        rows = [json.loads(x) for x in (data_root / "biosses" / f"{split}.jsonl").read_text().splitlines()]
        write_jsonl(hub / f"{theirs}.jsonl", [{"text_1": r["sentence1"], "text_2": r["sentence2"],
                                               "label": r["label"], "id": r["id"]} for r in rows])  # fmt: skip
    splits = read_hub_splits(str(hub), None, {"sentence1": "text_1", "sentence2": "text_2"}, {})
    assert {k: len(v) for k, v in splits.items()} == {"train": 24, "dev": 8, "test": 8}
    assert splits["dev"][0]["sentence1"] and "label" in splits["dev"][0]


def _datamodule(data_root: Path, cache_dir: Path) -> BlurbDataModule:
    task_type = get_task_type(OmegaConf.structured(TaskConfig()))
    splits = read_local_splits(str(data_root), "biosses")
    tokenizer = load_tokenizer(OmegaConf.structured(ModelConfig(source="random")), task_type.texts(splits["train"]))
    return BlurbDataModule(task_type, splits, tokenizer, 32, 4, 8, str(cache_dir), seed=1)


def test_tokenisation_is_cached_and_batches_are_dynamically_padded(data_root: Path, tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="blurb_lab.cache")
    first = _datamodule(data_root, tmp_path / "cache")
    first.setup()
    assert "cache miss" in caplog.text
    caplog.clear()
    second = _datamodule(data_root, tmp_path / "cache")
    second.setup()
    assert "cache hit" in caplog.text and "cache miss" not in caplog.text
    assert [f["input_ids"] for f in second.features["train"]] == [f["input_ids"] for f in first.features["train"]]
    for batch in first.train_dataloader():
        longest = int(batch["attention_mask"].sum(1).max())
        assert batch["input_ids"].shape[1] == longest  # padded to the batch, not to max_len
        assert set(batch) >= {"input_ids", "attention_mask", "token_type_ids", "target"}


def test_hub_ner_parquet_with_class_label_tags(tmp_path: Path, monkeypatch):
    """bigbio/blurb stores NER tags as ClassLabel ids in parquet; the reader gives tag names."""
    import datasets

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B", "I"])),
        }
    )
    hub = tmp_path / "bigbio_blurb_bc5chem"
    hub.mkdir()
    for split in ("train", "validation", "test"):
        rows = {"id": [f"{split}-0", f"{split}-1"], "tokens": [["Aspirin", "helps"], ["no", "drug"]],
                "ner_tags": [[1, 0], [0, 0]]}  # fmt: skip
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(hub / f"{split}.parquet"))
    splits = read_hub_splits(str(hub), None, {}, {})
    assert splits["dev"][0]["ner_tags"] == ["B", "O"] and splits["test"][1]["tokens"] == ["no", "drug"]


# --- length-grouped batches ----------------------------------------------------------------------


class _IndexBatches:
    """A task type whose batches are the lists of their feature indices."""

    @staticmethod
    def collate(batch: list[dict], pad_id: int) -> list[int]:
        return [f["index"] for f in batch]


def _stub_datamodule(lengths: list[int], batch_size: int, seed: int) -> BlurbDataModule:
    datamodule = BlurbDataModule(_IndexBatches(), {}, SimpleNamespace(pad_token_id=0), 32, batch_size, 8, "", seed=seed)
    datamodule.features = {"train": [{"index": i, "input_ids": [1] * n} for i, n in enumerate(lengths)]}
    return datamodule


LENGTHS = [(i * 7) % 30 + 1 for i in range(30)]  # 30 distinct lengths, 4 per batch: one batch of 2


def test_length_grouped_batches_are_whole_groups_in_the_order_of_earlier_versions():
    longest_first = sorted(range(30), key=lambda i: -LENGTHS[i])
    groups = sorted(sorted(longest_first[k : k + 4]) for k in range(0, 30, 4))
    for seed in (1, 2, 3):
        batches = list(_stub_datamodule(LENGTHS, 4, seed).train_dataloader())
        assert sorted(sorted(b) for b in batches) == groups  # no batch straddles two length groups
    loader = _stub_datamodule(LENGTHS, 4, 3).train_dataloader()
    flat = [i for batch in loader for i in batch]
    assert flat[:12] == [13, 0, 11, 28, 15, 2, 27, 14, 1, 18, 3, 20]  # the example order blurb_lab always had
    loader.batch_sampler.sampler.set_epoch(1)  # how Lightning starts an epoch
    again = _stub_datamodule(LENGTHS, 4, 3).train_dataloader()
    again.batch_sampler.sampler.set_epoch(1)
    assert list(loader) == list(again) and [i for b in loader for i in b] != flat  # seeded per (seed, epoch)


def test_each_global_batch_is_cut_into_world_x_accumulation_parts_the_same_count_on_every_rank(monkeypatch):
    """data.batch_size is the global batch: under DDP and accumulation each step's parts together are the
    batch one process would take, in near-equal parts, and every rank steps the same number of times."""
    import blurb_lab.data.sampler as sampler

    everything = list(sampler.LengthGroupedBatchSampler(LENGTHS, 8, seed=5))  # one process, no accumulation
    for world, accumulation in ((2, 1), (4, 1), (1, 2), (2, 2)):
        per_rank = []
        for rank in range(world):
            monkeypatch.setattr(sampler, "_rank_and_world", lambda rank=rank, world=world: (rank, world))
            batches = sampler.LengthGroupedBatchSampler(LENGTHS, 8, seed=5, accumulation=accumulation)
            per_rank.append(list(batches))
            assert len(batches) == len(per_rank[-1]) == len(everything) * accumulation
        for step, batch in enumerate(everything):
            parts = [per_rank[r][step * accumulation + a] for a in range(accumulation) for r in range(world)]
            assert [i for part in parts for i in part] == batch
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


def _records(split: str, n: int) -> list[dict]:
    return [{"id": f"{split}-{i}", "sentence1": "a", "sentence2": "b", "label": 1.0} for i in range(n)]


def test_cv_folds_hold_out_every_train_and_dev_record_once_over_seeds_1_to_k():
    train, dev = _records("train", 17), _records("dev", 6)
    held = []
    for seed in range(1, 6):
        new_train, new_dev = cv_split(train, dev, 5, seed)
        assert {r["id"] for r in new_train}.isdisjoint(r["id"] for r in new_dev)
        assert len(new_train) + len(new_dev) == 23 and len(new_dev) in (4, 5)
        held += [r["id"] for r in new_dev]
    assert sorted(held) == sorted(r["id"] for r in train + dev)
    assert cv_split(train, dev, 5, 2) == cv_split(train, dev, 5, 2)  # reproducible
    assert cv_split(train, dev, 5, 6)[1] != cv_split(train, dev, 5, 1)[1]  # seeds 6-10: a new shuffle


def test_cv_folds_keep_ids_unique_when_train_and_dev_share_them():
    train, dev = _records("x", 4), _records("x", 2)
    new_train, new_dev = cv_split(train, dev, 2, 1)
    ids = [r["id"] for r in new_train + new_dev]
    assert len(set(ids)) == 6 and "dev:x-0" in ids and "train:x-0" in ids


def test_cv_folds_through_load_splits_leave_test_whole_and_reject_too_many_folds(data_root: Path):
    cfg = OmegaConf.create(
        {"seed": 3, "task": {"name": "biosses", "dir": "", "format": "jsonl"},
         "data": {"source": "local", "root": str(data_root), "cv_folds": 2, "limit_train_examples": None}}
    )  # fmt: skip
    plain = read_local_splits(str(data_root), "biosses")
    splits = load_splits(cfg)
    assert splits["test"] == plain["test"]
    assert len(splits["train"]) + len(splits["dev"]) == len(plain["train"]) + len(plain["dev"])
    assert load_splits(cfg, ("dev",))["dev"] == splits["dev"]  # the evaluator sees the same fold
    cfg.data.cv_folds = 10_000
    with pytest.raises(ConfigError, match=r"data\.cv_folds"):
        load_splits(cfg)
