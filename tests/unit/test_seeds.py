"""Separate sources of randomness (Dodge et al. 2020): seed_init decides new weights, seed_data the
order of the training batches, and each leaves the other alone."""

from __future__ import annotations

from pathlib import Path

import torch

from blurb_lab.train import prepare
from tests.conftest import compose_config, make_biosses_like


def head_and_batches(root: Path, tmp: Path, seed_init: int, seed_data: int) -> tuple[dict, list[list[int]]]:
    cfg = compose_config(overrides=[
        "task=biosses", "model=tiny_bert", f"data.root={root}", f"data.cache_dir={tmp / 'cache'}",
        "data.batch_size=4", f"seed_init={seed_init}", f"seed_data={seed_data}"])  # fmt: skip
    prepared = prepare(cfg)
    head = {k: v.clone() for k, v in prepared.module.head.state_dict().items()}
    batches = [b["index"].tolist() for b in prepared.datamodule.train_dataloader()]
    return head, batches


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_seed_init_and_seed_data_act_alone(tmp_path: Path) -> None:
    root = make_biosses_like(tmp_path / "data", sizes=(24, 8, 8))
    head_11, batches_11 = head_and_batches(root, tmp_path, 1, 1)
    head_12, batches_12 = head_and_batches(root, tmp_path, 1, 2)
    head_21, batches_21 = head_and_batches(root, tmp_path, 2, 1)
    assert same_weights(head_11, head_12) and batches_11 != batches_12  # data order alone changed
    assert not same_weights(head_11, head_21) and batches_11 == batches_21  # new weights alone changed
    assert sorted(i for b in batches_12 for i in b) == list(range(24))  # every example once per epoch
