"""A model's full shape for cost estimates: `model.shape` as its YAML declares it, completed from
config.json for a model on disk (or from the random block), and its parameter count from a formula
when the YAML gives none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blurb_lab.config.model_source import model_location
from blurb_lab.errors import ConfigError

# model.shape's keys and the config.json keys they copy.
CONFIG_JSON_KEYS = {
    "num_layers": "num_hidden_layers",
    "hidden_size": "hidden_size",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "vocab_size": "vocab_size",
    "max_positions": "max_position_embeddings",
}
TOKEN_TYPES = 2  # type_vocab_size of BERT and ELECTRA checkpoints (segment A and B)


@dataclass(frozen=True)
class Shape:
    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    num_parameters: int


def encoder_parameters(layers: int, hidden: int, intermediate: int, vocab: int, positions: int, pooler: bool) -> int:
    """Parameters of a BERT-style encoder as AutoModel builds it:
    embeddings (word, position and TOKEN_TYPES segment rows of `hidden`, plus a LayerNorm: 2 h),
    per block the query, key, value and output projections (4 h^2 + 4 h), two LayerNorms (4 h) and
    the feed-forward pair (2 h i + i + h), and the pooler (h^2 + h) where the family has one.
    ELECTRA's discriminator has no pooler; an embedding_size other than hidden_size (ELECTRA-small's
    projection) is not modelled."""
    embeddings = (vocab + positions + TOKEN_TYPES) * hidden + 2 * hidden
    block = 4 * hidden * hidden + 2 * hidden * intermediate + 9 * hidden + intermediate
    return embeddings + layers * block + (hidden * hidden + hidden if pooler else 0)


def has_pooler(model: Any) -> bool:
    return model.family != "electra"


def _read_shape(model: Any) -> dict[str, int]:
    """What the model itself says: the random block, or config.json for a model on disk ({} for a
    hub model or a missing folder; the loader reports a missing folder)."""
    if model.source == "random":
        r = model.random
        values = (r.num_hidden_layers, r.hidden_size, r.num_attention_heads, r.intermediate_size,
                  r.vocab_size, r.max_position_embeddings)  # fmt: skip
        return dict(zip(CONFIG_JSON_KEYS, (int(v) for v in values), strict=True))
    if model.source not in ("local", "package"):
        return {}
    try:
        config = json.loads((Path(model_location(model)) / "config.json").read_text())
    except Exception:
        return {}
    return {ours: int(config[theirs]) for ours, theirs in CONFIG_JSON_KEYS.items() if theirs in config}


def encoder_shape(model: Any) -> Shape:
    """The shape a plan computes with: model.shape's declared values, the rest read; a value known
    neither way is a ConfigError naming its model.shape key."""
    declared = {k: v for k, v in (model.get("shape") or {}).items() if v is not None}
    values = {**_read_shape(model), **{k: int(v) for k, v in declared.items() if k in CONFIG_JSON_KEYS}}
    for key in CONFIG_JSON_KEYS:
        if key not in values:
            raise ConfigError(
                f"model.shape.{key}", f"unknown for {model.name}; copy it from the checkpoint's config.json"
            )
    params = declared.get("num_parameters")
    if params is None:
        params = encoder_parameters(values["num_layers"], values["hidden_size"], values["intermediate_size"],
                                    values["vocab_size"], values["max_positions"], has_pooler(model))  # fmt: skip
    return Shape(**values, num_parameters=int(params))
