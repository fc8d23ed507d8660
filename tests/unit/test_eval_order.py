"""Dev and test batches of length-sorted examples (data.sort_eval_by_length): less padding, and the
same predictions, scores and predictions file as batches in record order."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from blurb_lab.data.datamodule import BlurbDataModule
from tests.conftest import WORDS, compose_config, make_task_fixtures, write_jsonl

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec", "ignore:.*does not have many workers")

# --- the batches --------------------------------------------------------------------------------


class _IndexBatches:
    """A task type whose batches are the lists of their feature indices."""

    @staticmethod
    def collate(batch: list[dict], pad_id: int) -> list[int]:
        return [f["index"] for f in batch]


LENGTHS = [(i * 7) % 30 + 1 for i in range(30)] + [5, 5, 5]  # ties too: 33 examples, 4 a batch


def _stub(sort: bool, bi: bool = False) -> BlurbDataModule:
    datamodule = BlurbDataModule(_IndexBatches(), {}, SimpleNamespace(pad_token_id=0), 32, 8, 4, "", seed=1,
                                 sort_eval_by_length=sort)  # fmt: skip
    features = [{"index": i, "input_ids": [1] * n} for i, n in enumerate(LENGTHS)]
    if bi:  # the second side of a bi-encoded pair counts too
        features = [{**f, "input_ids_b": [1] * (3 * (i % 4))} for i, f in enumerate(features)]
    datamodule.features = {"train": features, "dev": features, "test": features}
    return datamodule


def _padding(batches: list[list[int]]) -> int:
    return sum(max(LENGTHS[i] for i in b) * len(b) - sum(LENGTHS[i] for i in b) for b in batches)


def test_eval_batches_are_length_sorted_and_cover_every_example_once():
    for loader in (_stub(True).val_dataloader(), _stub(True).test_dataloader()):
        batches = list(loader)
        assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
        flat = [LENGTHS[i] for b in batches for i in b]
        assert flat == sorted(LENGTHS, reverse=True)  # longest first, one run through the sorted order
        assert [len(b) for b in batches] == [4] * 8 + [1] and len(loader) == 9
        ties = [i for b in batches for i in b if LENGTHS[i] == 5]
        assert ties == sorted(ties)  # equal lengths keep record order: the batches are deterministic
    in_order = list(_stub(False).val_dataloader())
    assert in_order == [list(range(k, min(k + 4, 33))) for k in range(0, 33, 4)]  # the unsorted behaviour
    assert _padding(batches) < _padding(in_order) / 5
    train = list(_stub(True).train_dataloader())  # training keeps its length-grouped random order
    assert [i for b in train for i in b] != [i for b in batches for i in b]


def test_a_bi_encoded_pair_sorts_by_both_sides():
    order = [i for b in _stub(True, bi=True).val_dataloader() for i in b]
    totals = [LENGTHS[i] + 3 * (i % 4) for i in order]
    assert totals == sorted(totals, reverse=True) and order != [i for b in _stub(True).val_dataloader() for i in b]


@pytest.mark.parametrize("world", [2, 3, 4, 12])
def test_under_ddp_every_example_is_evaluated_and_ranks_step_alike(monkeypatch, world: int):
    """Rank r takes sorted batches r, r + world, ...; short ranks repeat existing batches, which
    gather_predictions drops, so after the gather every example is there exactly once."""
    import blurb_lab.data.sampler as sampler

    single = list(_stub(True).val_dataloader())
    per_rank = []
    for rank in range(world):
        monkeypatch.setattr(sampler, "_rank_and_world", lambda rank=rank: (rank, world))
        loader = _stub(True).val_dataloader()
        per_rank.append(list(loader))
        assert len(loader) == len(per_rank[-1]) == -(-len(single) // world)
    gathered: dict[int, int] = {}
    for batches in per_rank:
        assert all(b in single for b in batches)  # whole sorted batches, repeats included
        gathered.update({i: i for b in batches for i in b})  # keyed by index, as gather_predictions
    assert sorted(gathered) == list(range(len(LENGTHS)))
    assert sorted(map(sorted, single)) == sorted(sorted(b) for b in {tuple(b) for r in per_rank for b in r})


# --- the results ----------------------------------------------------------------------------------


def _gad_of_varied_length(root: Path, sizes: tuple[int, int, int] = (16, 9, 9)) -> None:
    """GAD-format sentences of 3 to 40 words, so sorted batches differ from record order."""
    rng = random.Random(3)
    for split, n in zip(("train", "dev", "test"), sizes, strict=True):
        rows = []
        for i in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 38))]
            words.insert(rng.randint(0, len(words)), "@GENE$")
            words.insert(rng.randint(0, len(words)), "@DISEASE$")
            rows.append({"id": f"gad-{split}-{i}", "sentence": " ".join(words), "label": rng.choice(["0", "1"])})
        write_jsonl(root / "gad" / f"{split}.jsonl", rows)


def _biosses_of_varied_length(root: Path, sizes: tuple[int, int, int] = (16, 9, 9)) -> None:
    """BIOSSES-format pairs of 1 to 25 words a side, scored by their word overlap."""
    rng = random.Random(4)
    for split, n in zip(("train", "dev", "test"), sizes, strict=True):
        rows = []
        for i in range(n):
            a, b = ([rng.choice(WORDS) for _ in range(rng.randint(1, 25))] for _ in range(2))
            rows.append({"id": f"biosses-{split}-{i}", "sentence1": " ".join(a), "sentence2": " ".join(b),
                         "label": float(min(4, len(set(a) & set(b))))})  # fmt: skip
        write_jsonl(root / "biosses" / f"{split}.jsonl", rows)


def _evaluate(task: str, data: Path, out: Path, sort: bool) -> dict[str, Any]:
    """Validate and test one seeded, untrained tiny_bert; what each feature's logits were, the batches
    in the order they came, the scores and the predictions file."""
    from blurb_lab.train import make_trainer, prepare, write_predictions

    overrides = [f"task={task}", "model=tiny_bert", f"data.root={data}", "data.eval_batch_size=3",
                 f"data.cache_dir={out.parent / 'cache'}", "task.max_len=64", "trainer.enable_progress_bar=false",
                 f"data.sort_eval_by_length={str(sort).lower()}"]  # fmt: skip
    cfg = compose_config(overrides=overrides)
    prepared = prepare(cfg)
    task_type, features = prepared.task_type, prepared.datamodule.features
    logits_of: dict[tuple[str, int], torch.Tensor] = {}
    batches: list[list[int]] = []
    decode = task_type.decode
    split = {"name": "dev"}

    def spy(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        batches.append(batch["index"].tolist())
        for row, index in enumerate(batch["index"].tolist()):
            width = len(features[split["name"]][index]["input_ids"])
            value = logits[row, :width] if logits.dim() == 3 else logits[row]  # a tagger's padding cut off
            logits_of[split["name"], index] = value.detach().clone()
        return decode(logits, batch)

    task_type.decode = spy
    trainer = make_trainer(cfg, out.parent, [], [])
    metric = cfg.task.metric
    dev = trainer.validate(prepared.module, datamodule=prepared.datamodule, verbose=False)[0][f"dev/{metric}"]
    split["name"] = "test"
    test = trainer.test(prepared.module, datamodule=prepared.datamodule, verbose=False)[0][f"test/{metric}"]
    write_predictions(out, task_type, prepared.splits["test"], prepared.module.test_predictions)
    lengths = {i: sum(len(v) for k, v in f.items() if k.startswith("input_ids")) for i, f in enumerate(features["dev"])}
    return {"dev": dev, "test": test, "predictions": prepared.module.test_predictions, "file": out.read_text(),
            "logits": logits_of, "batches": batches, "dev_lengths": lengths}  # fmt: skip


@pytest.mark.parametrize("task", ["gad", "ncbi_disease", "biosses"])
def test_sorted_evaluation_gives_the_same_predictions_scores_and_file(tmp_path: Path, task: str):
    data = make_task_fixtures(tmp_path / "data", n=(16, 9, 9))  # NER sentences of 3 to 30 words
    _gad_of_varied_length(tmp_path / "data")
    _biosses_of_varied_length(tmp_path / "data")
    (tmp_path / "sorted").mkdir()
    (tmp_path / "unsorted").mkdir()
    on = _evaluate(task, data, tmp_path / "sorted" / "predictions_test.jsonl", sort=True)
    off = _evaluate(task, data, tmp_path / "unsorted" / "predictions_test.jsonl", sort=False)
    n_dev = len(on["dev_lengths"])
    assert off["batches"][: -(-n_dev // 3)] == [list(range(k, min(k + 3, n_dev))) for k in range(0, n_dev, 3)]
    dev_batches = on["batches"][: -(-n_dev // 3)]
    widths = [max(on["dev_lengths"][i] for i in b) for b in dev_batches]
    assert widths == sorted(widths, reverse=True) and dev_batches != off["batches"][: len(dev_batches)]
    assert on["logits"].keys() == off["logits"].keys() and len(on["logits"]) == n_dev + 9
    for key, value in on["logits"].items():  # other batch shapes: equal up to float rounding
        assert torch.allclose(value, off["logits"][key], atol=1e-5, rtol=0), key
    if task == "biosses":  # a regression's outputs are floats: equal up to that rounding
        assert on["predictions"] == pytest.approx(off["predictions"], abs=1e-5)
        assert on["dev"] == pytest.approx(off["dev"], abs=1e-5) and on["test"] == pytest.approx(off["test"], abs=1e-5)
    else:  # labels and tags: exactly the same, so the same scores and the same predictions file
        assert on["predictions"] == off["predictions"] and on["file"] == off["file"]
        assert on["dev"] == off["dev"] and on["test"] == off["test"]


def test_the_eval_order_is_no_part_of_a_configurations_identity():
    """Results written before the key existed, and runs with either order, are seeds of one configuration."""
    from omegaconf import OmegaConf

    from blurb_lab.identity import configuration_key, configuration_label

    keys, labels = set(), set()
    for override in ([], ["data.sort_eval_by_length=false"]):
        cfg = compose_config(overrides=["model=tiny_bert", *override])
        hparams = OmegaConf.to_container(cfg)
        hparams["paths"] = {}  # needs Hydra's runtime; no part of identity either
        hparams = OmegaConf.to_container(OmegaConf.create(hparams), resolve=True)
        keys.add(configuration_key(hparams))
        del hparams["data"]["sort_eval_by_length"]  # as results.json of earlier versions has it
        keys.add(configuration_key(hparams))
        labels.add(configuration_label(cfg, override))
    assert len(keys) == 1 and len(labels) == 1
