"""An encoder's depth and position limit before anything loads: config.json's for a model on disk (or
the random block's), else what the model's YAML declares in `model.shape` (hub models, which would
need a download). So a strategy that names a block the model lacks fails in preflight, with one line,
instead of in every job of the sweep once the weights are loaded."""

from __future__ import annotations

from typing import Any

from blurb_lab.config.model_source import model_shape
from blurb_lab.errors import ConfigError

# model.shape's keys and the config.json keys they copy, for the two a config check reads.
CHECKED = (("num_layers", "num_hidden_layers"), ("max_positions", "max_position_embeddings"))


def declared_shape(model: Any) -> dict[str, int]:
    """The values model.shape declares (config.json's names), those left null omitted."""
    shape = model.get("shape") or {}
    return {theirs: int(shape[ours]) for ours, theirs in CHECKED if shape.get(ours) is not None}


def known_shape(model: Any) -> dict[str, int]:
    """num_hidden_layers and max_position_embeddings as far as they are known without a download:
    read (config.json, the random block) where possible, declared (model.shape) otherwise. A
    declared value that disagrees with the read one is a ConfigError naming the model.shape key."""
    try:
        found = model_shape(model)
    except Exception:  # a missing folder is reported when the model is loaded
        found = {}
    declared = declared_shape(model)
    where = "model.random" if model.source == "random" else "its config.json"
    for ours, theirs in CHECKED:
        if theirs in found and theirs in declared and found[theirs] != declared[theirs]:
            raise ConfigError(
                f"model.shape.{ours}",
                f"{declared[theirs]} disagrees with {where} ({theirs}: {found[theirs]}) for {model.name}",
            )
    return {**declared, **found}
