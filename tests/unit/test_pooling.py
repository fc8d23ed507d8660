"""Pooling, target scaling, bi-encoded similarity, model recipes and reference scores (issue: a run
must learn what the model can learn, and say what it has to beat)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModel, BertConfig

from blurb_lab.config.resolvers import applied_recipe
from blurb_lab.config.validate import validate
from blurb_lab.errors import ConfigError
from blurb_lab.models.loading import check_pooler, load_encoder
from blurb_lab.models.pooling import Pooling
from blurb_lab.references import zero_shot_scores
from blurb_lab.tasks import get_task_type
from blurb_lab.tasks.cross_cosine import CrossCosineRegression
from blurb_lab.tasks.sequence import BiEncoderRegression, PairRegression
from tests.conftest import compose_config

SHAPE = {"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 32, "max_position_embeddings": 64}  # fmt: skip


def cfg_for(*overrides: str):
    return compose_config(overrides=list(overrides))


def records(labels: list[float]) -> list[dict]:
    return [{"id": str(i), "sentence1": "a b", "sentence2": "c d", "label": y} for i, y in enumerate(labels)]


def test_pooling_modes_read_what_they_say() -> None:
    encoder = AutoModel.from_config(BertConfig(**SHAPE)).eval()
    ids = torch.tensor([[2, 5, 6, 3, 0, 0], [2, 7, 3, 0, 0, 0]])
    mask = (ids != 0).long()
    outputs = encoder(input_ids=ids, attention_mask=mask)
    hidden = outputs.last_hidden_state
    mean = Pooling("mean", 16, own_pooler=False)(outputs, mask)
    assert torch.allclose(mean[0], hidden[0, :4].mean(0), atol=1e-6)  # padding never counts
    assert torch.allclose(mean[1], hidden[1, :3].mean(0), atol=1e-6)
    assert torch.equal(Pooling("cls", 16, own_pooler=False)(outputs, mask), hidden[:, 0])
    assert torch.equal(Pooling("pooler", 16, own_pooler=False)(outputs, mask), outputs.pooler_output)
    own = Pooling("pooler", 16, own_pooler=True)
    assert own.pooler is not None and own(outputs, mask).shape == (2, 16)


def test_checkpoint_without_pooler_is_reported_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "no-pooler-bert"
    AutoModel.from_config(BertConfig(**SHAPE), add_pooling_layer=False).save_pretrained(folder)
    model_cfg = OmegaConf.create({"name": "np", "source": "local", "path": str(folder), "pooling": "pooler"})
    with caplog.at_level(logging.WARNING):
        encoder, initialised = load_encoder(model_cfg, vocab_size=50)
        check_pooler(model_cfg, encoder, initialised)
    assert initialised == ["pooler.dense.bias", "pooler.dense.weight"]  # as transformers reports them
    pooler_warnings = [r.getMessage() for r in caplog.records if "model.pooling=pooler" in r.getMessage()]
    assert len(pooler_warnings) == 1 and "\n" not in pooler_warnings[0]
    caplog.clear()
    check_pooler(OmegaConf.merge(model_cfg, {"pooling": "mean"}), encoder, initialised)
    assert not caplog.records  # mean pooling never reads the pooler: nothing to warn about


def test_standardised_targets_train_on_z_scores_and_predict_on_the_label_scale() -> None:
    task = get_task_type(cfg_for("task=biosses").task)
    assert isinstance(task, PairRegression) and task.cfg.target_scaling == "standardize"
    task.fit(records([0.0, 2.0, 4.0, 2.0]))
    assert task.center == pytest.approx(2.0) and task.scale == pytest.approx(2**0.5)
    batch = {"target": torch.tensor([0.0, 4.0])}
    assert task.target(batch).tolist() == pytest.approx([-(2**0.5), 2**0.5])
    assert task.decode(torch.tensor([[0.0], [1.0]]), batch) == pytest.approx([2.0, 2.0 + 2**0.5])
    assert task.trivial_loss(records([0.0, 2.0, 4.0, 2.0])) == pytest.approx(1.0)


def test_unscaled_targets_start_the_bias_at_the_train_mean() -> None:
    task = get_task_type(cfg_for("task=biosses", "task.target_scaling=none").task)
    task.fit(records([1.0, 3.0, 3.5]))
    head = task.build_head(16, 0.1, "cls", own_pooler=False, init_std=0.02)
    assert head.out.bias.item() == pytest.approx(2.5) and (task.center, task.scale) == (0.0, 1.0)
    assert task.describe()["target_scaling"]["mode"] == "none"


def test_bi_encoding_scores_the_cosine_of_separately_encoded_sentences() -> None:
    cfg = cfg_for("task=biosses", "task.pair_encoding=bi")
    task = get_task_type(cfg.task)
    assert isinstance(task, BiEncoderRegression) and task.encoding_tag != get_task_type(cfg_for().task).encoding_tag
    task.fit([])
    assert (task.center, task.scale) == (0.0, 4.0)  # label_range [0, 4] onto [0, 1]
    feats = [{"index": 0, "target": 4.0, "input_ids": [2, 5, 3], "input_ids_b": [2, 5, 3]},
             {"index": 1, "target": 0.0, "input_ids": [2, 5, 6, 7, 3], "input_ids_b": [2, 9, 3]}]  # fmt: skip
    batch = task.collate(feats, pad_id=0)
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["attention_mask_b"].tolist() == [[1, 1, 1], [1, 1, 1]]
    encoder = AutoModel.from_config(BertConfig(**SHAPE)).eval()
    head = task.build_head(16, 0.1, "mean", own_pooler=False, init_std=0.02)
    cosine = task.forward(encoder, head, batch)
    assert cosine.shape == (2, 1) and cosine[0].item() == pytest.approx(1.0, abs=1e-5)  # identical sentences
    assert task.decode(cosine, batch)[0] == pytest.approx(4.0, abs=1e-4)
    assert task.target(batch).tolist() == [1.0, 0.0]


def test_cross_cosine_head_pools_each_sentence_of_the_joint_encoding() -> None:
    from transformers import BertTokenizerFast

    task = get_task_type(cfg_for("task=biosses", "model.pair_head=cosine", "model.pooling=mean").task, "cosine")
    assert isinstance(task, CrossCosineRegression) and task.encoding_tag != get_task_type(cfg_for().task).encoding_tag
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "kinase", "binds", "gene", "cells"]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "vocab.txt").write_text("\n".join(vocab))
        tokenizer = BertTokenizerFast(str(Path(folder) / "vocab.txt"))
    pairs = [("kinase binds", "kinase binds"), ("gene", "cells cells gene"), ("kinase", "cells")]
    labels = [4.0, 1.0, 0.5]
    train = [{"id": str(i), "sentence1": a, "sentence2": b, "label": labels[i]} for i, (a, b) in enumerate(pairs)]
    encoded = task.encode(train, tokenizer, max_len=16)
    assert encoded["segments"][1] == [-1, 0, -1, 1, 1, 1, -1]  # [CLS] gene [SEP] cells cells gene [SEP]
    task.fit(train)
    features = task.features(train, encoded)
    batch = task.collate(features, pad_id=0)
    assert batch["segments"][2].tolist()[-2:] == [-1, -1]  # padding belongs to neither sentence
    torch.manual_seed(0)
    encoder = AutoModel.from_config(BertConfig(**SHAPE)).eval()
    head = task.build_head(16, 0.1, "mean", own_pooler=False, init_std=0.02)
    outputs = encoder(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
    a, b = outputs.last_hidden_state[1, 1:2].mean(0), outputs.last_hidden_state[1, 3:6].mean(0)  # one joint pass
    cosine = head.cosine(outputs, batch["segments"])
    assert cosine[1].item() == pytest.approx(torch.cosine_similarity(a, b, dim=0).item(), abs=1e-5)
    # The affine map starts as the least-squares fit of the trained targets on these cosines.
    task.init_head(encoder, head, {"train": features, "test": features}, pad_id=0)
    x, y = cosine.squeeze(-1).double(), task.target(batch).double()
    slope = ((x - x.mean()) * (y - y.mean())).sum() / (x - x.mean()).square().sum()
    assert head.out.weight.item() == pytest.approx(slope.item(), rel=1e-4)
    with torch.no_grad():
        predicted = task.decode(task.forward(encoder, head, batch), batch)
    assert sum(predicted) / 3 == pytest.approx(sum(r["label"] for r in train) / 3, abs=1e-4)  # level: the train mean
    start = task.describe()["pair_head"]
    assert start["slope"] == pytest.approx(slope.item(), rel=1e-4) and start["train_pairs"] == 3
    assert start["start_test_score"] == pytest.approx(task.score(predicted, labels), abs=1e-5)  # the untrained score


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.pair_head=cosine", "model.pooling=cls"], "model.pair_head: 'cosine' mean-pools each sentence"),
        (["model.pair_head=dot"], "model.pair_head: 'dot' is not allowed"),
    ],
)
def test_pair_head_values_are_checked(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(cfg_for("model=tiny_bert", *overrides))


@pytest.mark.parametrize(
    ("overrides", "lr", "batch", "epochs"),
    [
        (["model.recipes=[]"], 5e-5, 16, 20),  # no recipe: the task's BLURB defaults
        (["model.recipes=[{lr: 1e-4, epochs: 7}]"], 1e-4, 16, 7),
        (["model.recipes=[{lr: 1e-4, batch_size: 8}]", "optim.lr=2e-5", "data.batch_size=32"], 2e-5, 32, 20),
        # the first matching entry applies; entries for other tasks never leak onto this one
        (
            ["model.recipes=[{task: gad, lr: 1e-3}, {task_types: [sequence_classification], lr: 2e-3}, {lr: 3e-4}]"],
            3e-4,
            16,
            20,
        ),
        (["model.recipes=[{pair_encoding: bi, lr: 1e-3}, {task: biosses, lr: 2e-4, epochs: 3}]"], 2e-4, 16, 3),
        (["task.pair_encoding=bi", "model.recipes=[{pair_encoding: bi, lr: 1e-3}, {lr: 2e-4}]"], 1e-3, 16, 20),
        (["model.recipes=[{task_types: [sentence_pair_regression], batch_size: 4}, {lr: 2e-4}]"], 5e-5, 4, 20),
    ],
)
def test_model_recipe_applies_unless_the_user_sets_the_key(overrides: list[str], lr: float, batch: int, epochs: int):
    cfg = cfg_for("task=biosses", "model=minilm", *overrides)
    assert (cfg.optim.lr, cfg.data.batch_size, cfg.trainer.max_epochs) == (lr, batch, epochs)


def test_minilm_recipes_follow_the_task_kind_they_were_chosen_for() -> None:
    lrs = {
        (task, enc, head): cfg_for(
            "model=minilm", f"task={task}", f"task.pair_encoding={enc}", f"model.pair_head={head}"
        ).optim.lr
        for task, enc, head in [("biosses", "cross", "cosine"), ("biosses", "cross", "linear"),
                                ("biosses", "bi", "cosine"), ("gad", "cross", "cosine"), ("hoc", "cross", "linear")]
    }  # fmt: skip
    bi, cross_cosine, classification, catch_all = cfg_for("model=minilm").model.recipes
    assert lrs[("biosses", "bi", "cosine")] == bi.lr and lrs[("biosses", "cross", "cosine")] == cross_cosine.lr
    assert lrs[("gad", "cross", "cosine")] == lrs[("hoc", "cross", "linear")] == classification.lr
    assert lrs[("biosses", "cross", "linear")] == catch_all.lr != cross_cosine.lr  # BLURB's head: its own search
    assert all(r.chosen_by for r in (bi, cross_cosine, classification, catch_all))


def test_results_credit_a_recipe_only_when_one_of_its_values_was_used() -> None:
    assert applied_recipe(cfg_for("model=minilm", "task=gad")) == cfg_for("model=minilm").model.recipes[2].chosen_by
    assert applied_recipe(cfg_for("model=minilm", "task=gad", "optim.lr=2e-5", "data.batch_size=32")) is None
    assert applied_recipe(cfg_for("model=pubmedbert_base", "task=gad")) is None
    recipe = cfg_for("model=minilm").model.recipes[2]
    assert applied_recipe(cfg_for("model=minilm", "task=gad", "optim.lr=2e-5")) == recipe.chosen_by  # its batch size
    # Both values the recipe has set by the user, to the recipe's own numbers: the user's, not the recipe's.
    mine = cfg_for("model=minilm", "task=gad", f"optim.lr={recipe.lr}", f"data.batch_size={recipe.batch_size}")
    assert applied_recipe(mine) is None


def test_zero_shot_reference_is_computed_once_and_cached(tmp_path: Path) -> None:
    from blurb_lab.models.loading import _train_wordpiece

    cfg = cfg_for("task=biosses", "model=minilm")
    task = get_task_type(cfg.task)
    split = records([0.0, 1.0, 3.0, 4.0])
    for i, r in enumerate(split):
        r["sentence2"] = "a b" if r["label"] > 2 else f"x{i} y{i}"
    splits = {"train": split, "dev": split, "test": split}
    tokenizer = _train_wordpiece([r[f] for r in split for f in ("sentence1", "sentence2")], 100, 64)
    encoder = AutoModel.from_config(BertConfig(**{**SHAPE, "vocab_size": len(tokenizer)})).eval()
    model_cfg = OmegaConf.merge(cfg.model, {"pooling": "mean"})
    first = zero_shot_scores(model_cfg, task, splits, encoder, tokenizer, str(tmp_path))
    assert first["zero_shot_test_score"] is not None and list(tmp_path.glob("biosses-zero-shot-*.pt"))
    torch.nn.init.normal_(encoder.embeddings.word_embeddings.weight)  # a changed model would score differently
    assert zero_shot_scores(model_cfg, task, splits, encoder, tokenizer, str(tmp_path)) == first
    random_model = OmegaConf.merge(model_cfg, {"source": "random"})
    assert (
        zero_shot_scores(random_model, task, splits, encoder, tokenizer, str(tmp_path))["zero_shot_dev_score"] is None
    )
