"""model.shape in conf/model/*.yaml: the packaged MiniLM's values are its config.json's and its
parameter count the loaded encoder's; every declared count follows from its shape by the formula;
the random models' shape is their random block; a hub model's depth is known without a download."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from blurb_lab.config.compose import CONFIG_DIR
from blurb_lab.config.depth import known_shape
from blurb_lab.config.model_source import model_location
from blurb_lab.config.validate import validate
from blurb_lab.errors import ConfigError
from blurb_lab.plan.shape import CONFIG_JSON_KEYS, encoder_parameters, encoder_shape, has_pooler
from tests.conftest import compose_config

MODELS = sorted(p.stem for p in (Path(CONFIG_DIR) / "model").glob("*.yaml"))


def model_cfg(*overrides: str):
    return compose_config(list(overrides)).model


def test_minilm_shape_is_its_config_json():
    model = model_cfg("model=minilm")
    config = json.loads((Path(model_location(model)) / "config.json").read_text())
    assert {ours: model.shape[ours] for ours in CONFIG_JSON_KEYS} == {
        ours: config[theirs] for ours, theirs in CONFIG_JSON_KEYS.items()
    }


def test_minilm_parameter_count_is_the_loaded_encoders():
    from transformers import AutoModel

    model = model_cfg("model=minilm")
    encoder = AutoModel.from_pretrained(model_location(model))
    assert model.shape.num_parameters == sum(p.numel() for p in encoder.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_every_declared_parameter_count_follows_from_its_shape(name: str):
    model = model_cfg(f"model={name}")
    s = model.shape
    formula = encoder_parameters(s.num_layers, s.hidden_size, s.intermediate_size, s.vocab_size, s.max_positions,
                                 has_pooler(model))  # fmt: skip
    assert encoder_shape(model).num_parameters == formula
    assert s.num_parameters in (None, formula)
    assert all(s[key] is not None for key in CONFIG_JSON_KEYS), "every model declares its shape"


@pytest.mark.parametrize("name", ["tiny_bert", "tiny_electra"])
def test_random_shape_follows_the_random_block_and_counts_what_transformers_builds(name: str):
    from transformers import AutoModel

    from blurb_lab.models.loading import _random_config

    model = model_cfg(f"model={name}", "model.random.hidden_size=48", "model.random.num_hidden_layers=3")
    assert (model.shape.hidden_size, model.shape.num_layers) == (48, 3)
    encoder = AutoModel.from_config(_random_config(model, model.random.vocab_size))
    assert encoder_shape(model).num_parameters == sum(p.numel() for p in encoder.parameters())


def test_hub_depth_is_known_without_a_download_and_checked():
    assert known_shape(model_cfg("model=pubmedbert_large")) == {"num_hidden_layers": 24, "max_position_embeddings": 512}
    cfg = compose_config(["model=pubmed_electra_base", "strategy=reinit_top", "strategy.reinit_top_layers=13"])
    with pytest.raises(ConfigError, match=r"strategy.reinit_top_layers: 13 > 12 blocks in pubmed_electra_base"):
        validate(cfg)
    cfg = compose_config(["model=pubmedbert_base", "task.max_len=1024"])
    with pytest.raises(ConfigError, match=r"task.max_len: 1024 is beyond the model's limit; must be <= 512"):
        validate(cfg)


def test_a_declared_shape_must_agree_with_what_the_model_says():
    with pytest.raises(ConfigError, match=r"model.shape.max_positions: 256 disagrees with its config.json"):
        known_shape(model_cfg("model.shape.max_positions=256"))
    with pytest.raises(ConfigError, match=r"model.shape.num_layers: 4 disagrees with model.random"):
        known_shape(model_cfg("model=tiny_bert", "model.shape.num_layers=4"))
    unknown = OmegaConf.merge(model_cfg("model=pubmedbert_base"), {"shape": {"hidden_size": None}})
    with pytest.raises(ConfigError, match=r"model.shape.hidden_size: unknown for pubmedbert_base"):
        encoder_shape(unknown)
