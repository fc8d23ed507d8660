"""Where a model config points (hub id or folder) and the shape its config.json declares, read without
torch or transformers so that the validator can check a config before anything heavy loads."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from blurb_lab.errors import ConfigError, ModelError
from blurb_lab.types import SOURCES


def model_location(cfg: Any) -> str:
    """The string from_pretrained gets: a hub id, or a folder on disk."""
    if cfg.source == "hub":
        return cfg.path
    if cfg.source == "local":
        folder = Path(cfg.path).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelError(f"model.path: no config.json in local model folder {folder}")
        return str(folder)
    if cfg.source == "package":
        spec = importlib.util.find_spec(cfg.path)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"model.path: Python package '{cfg.path}' is not installed")
        folder = Path(next(iter(spec.submodule_search_locations))) / cfg.package_subdir
        if not (folder / "config.json").is_file():
            raise ModelError(f"model.path: package '{cfg.path}' has no model folder at {folder}")
        return str(folder)
    raise ConfigError("model.source", f"'{cfg.source}' has no location; allowed: {', '.join(SOURCES)}")


def model_shape(cfg: Any) -> dict[str, int]:
    """Position limit and depth, read without loading weights ({} when unknown, e.g. hub offline)."""
    if cfg.source == "random":
        r = cfg.random
        return {
            "max_position_embeddings": r.max_position_embeddings,
            "num_hidden_layers": r.num_hidden_layers,
        }
    if cfg.source in ("local", "package"):
        config = json.loads((Path(model_location(cfg)) / "config.json").read_text())
        keys = ("max_position_embeddings", "num_hidden_layers")
        return {k: int(config[k]) for k in keys if k in config}
    return {}
