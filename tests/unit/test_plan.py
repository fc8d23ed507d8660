"""`blurb-lab plan`'s arithmetic against hand counts: training FLOPs of a small shape, tokens against
a direct tokenisation of the train split (max_len, data.limit_train_examples and cross-validation
folds respected), memory, epochs, and the throughput a gpu_check.json sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from blurb_lab.config.model_source import model_location
from blurb_lab.data.readers import cv_split, read_local_splits
from blurb_lab.gpu_math import GIB, flops_per_token
from blurb_lab.plan.cards import DEFAULT_MFU, read_gpu_check, throughput
from blurb_lab.plan.flops import epochs_run, forward_flops, training_flops
from blurb_lab.plan.memory import peak_bytes
from blurb_lab.plan.shape import Shape
from blurb_lab.plan.tokens import count_key, count_tokens
from tests.conftest import compose_config, make_biosses_like

SMALL = Shape(num_layers=2, hidden_size=4, num_heads=2, intermediate_size=8, vocab_size=50, max_positions=16,
              num_parameters=1000)  # fmt: skip


def test_training_flops_of_a_small_shape_by_hand():
    # Two sequences of 3 and 5 tokens. Matmul weights: 2 blocks x (4 x 4^2 + 2 x 4 x 8) = 256.
    # 6 x 256 x (3 + 5) = 12,288; attention: 12 x 2 blocks x 4 hidden x (3^2 + 5^2) = 3,264.
    assert training_flops(SMALL, 3 + 5, 3**2 + 5**2) == 12_288 + 3_264
    assert training_flops(SMALL, 8, 34) == sum(t * flops_per_token(2, 4, 8, t) for t in (3, 5))  # gpu_math's formula
    assert forward_flops(SMALL, 8, 34) == (12_288 + 3_264) / 3


def test_peak_memory_of_a_small_shape_by_hand():
    # 1000 params x 16 B = 16,000; activations per block at batch 2, 3 tokens: 3 x 2 x 4 x 34 = 816
    # plus 5 x 2 heads x 3^2 x 2 = 180; two blocks: 1,992; at 32-bit twice that.
    assert peak_bytes(SMALL, batch=2, seq=3, precision="bf16-mixed") == 16_000 + 2_000 + 1_992
    assert peak_bytes(SMALL, batch=2, seq=3, precision="32-true") == 16_000 + 2 * 1_992


def test_epochs_follow_max_epochs_and_limit_train_batches():
    class Trainer:
        max_epochs, limit_train_batches = 3, 1.0

    assert epochs_run(Trainer, examples=100, examples_per_batch=16) == 3
    Trainer.limit_train_batches = 0.5
    assert epochs_run(Trainer, 100, 16) == 1.5
    Trainer.limit_train_batches = 2  # 2 of the 7 batches of an epoch
    assert epochs_run(Trainer, 100, 16) == pytest.approx(3 * 2 / 7)


def direct_count(tokenizer, records: list[dict], max_len: int) -> list[int]:
    return [len(tokenizer(r["sentence1"], r["sentence2"], truncation=True, max_length=max_len)["input_ids"])
            for r in records]  # fmt: skip


def test_tokens_equal_a_direct_count_of_the_train_split(tmp_path: Path):
    data = make_biosses_like(tmp_path / "blurb", (30, 8, 8))
    cfg = compose_config(["model=minilm", f"data.root={data}", "task.max_len=12", "data.limit_train_examples=20"])
    counted = count_tokens(cfg)
    tokenizer = AutoTokenizer.from_pretrained(model_location(cfg.model))
    lengths = direct_count(tokenizer, read_local_splits(str(data), "biosses")["train"][:20], 12)
    assert max(lengths) == 12 and len(lengths) == 20  # max_len truncates, the limit holds
    assert (counted.train.examples, counted.train.tokens) == (20, sum(lengths))
    assert counted.train.square_tokens == sum(n * n for n in lengths)
    assert counted.tokenizer == "minilm" and counted.predictions_bytes > 0


def test_tokens_under_cross_validation_are_the_seeds_fold(tmp_path: Path):
    data = make_biosses_like(tmp_path / "blurb", (30, 8, 8))
    common = ["model=minilm", f"data.root={data}", "data.cv_folds=4"]
    first, second = (compose_config([*common, f"seed={seed}"]) for seed in (1, 2))
    assert count_key(first) != count_key(second)
    assert count_key(first) == count_key(compose_config([*common, "seed=1", "strategy=reinit_top", "optim.lr=1e-4"]))
    splits = read_local_splits(str(data), "biosses")
    train, _ = cv_split(splits["train"], splits["dev"], 4, 2)
    tokenizer = AutoTokenizer.from_pretrained(model_location(second.model))
    assert count_tokens(second).train.tokens == sum(direct_count(tokenizer, train, second.task.max_len))


def test_throughput_from_a_gpu_check_of_the_same_card(tmp_path: Path):
    path = tmp_path / "multirun_outputs" / "gpu_check" / "2026-01-01_00-00-00" / "gpu_check.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"device": "NVIDIA H100 80GB HBM3", "versus_trainer": {"mfu": 0.21},
                                "memory": {"card_memory_gib": 79.1}}))  # fmt: skip
    report, found = read_gpu_check(None, tmp_path)
    assert found == path
    rate = throughput(None, None, None, report, found)
    assert (rate.card, rate.mfu, rate.tflops, rate.memory_bytes) == ("h100", 0.21, 989 * 0.21, int(79.1 * GIB))
    assert "measured by make gpu-check" in rate.source
    other = throughput("a100", None, None, report, found)  # another card: its MFU is not this one's
    assert (other.mfu, other.tflops, other.memory_bytes) == (DEFAULT_MFU, 312 * DEFAULT_MFU, 80 * 10**9)
    assert throughput("a100", 0.5, None, report, found).tflops == 156
    assert throughput("l4", None, 40.0, None, None).tflops == 40.0
