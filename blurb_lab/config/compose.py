"""Composing blurb_lab's Hydra configs, for the Hydra app and outside it (preflight, the evaluator):
where the configs are, what the schema and resolvers need registered, and composition errors as
one line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from blurb_lab.config.resolvers import register_resolvers
from blurb_lab.config.schema import register_configs
from blurb_lab.locations import config_dir

if TYPE_CHECKING:
    from omegaconf import DictConfig

CONFIG_DIR = str(config_dir())  # conf/ of the checkout, or the copy inside an installed wheel
CONFIG_NAME = "config"


def register() -> None:
    """Register the schema and the resolvers conf/ uses (safe to call again)."""
    register_resolvers()
    register_configs()


def compose_config(overrides: list[str], hydra: bool = False) -> DictConfig:
    """conf/ composed with these overrides outside a Hydra app (the evaluator, the run dir of
    externally started ranks, tests), the `hydra` node included on request."""
    from hydra import compose, initialize_config_dir

    register()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=CONFIG_NAME, overrides=list(overrides), return_hydra_config=hydra)


def explain_compose_error(exc: Exception) -> str:
    """Hydra/OmegaConf composition errors as one line naming the key and what is allowed."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        group, _, option = exc.missing_cfg_file.rpartition("/")
        options = exc.options or sorted(p.stem for p in Path(CONFIG_DIR, group).glob("*.yaml"))
        if group:
            return f"{group}={option}: unknown option for '{group}'; allowed: {', '.join(options)}"
    cause: Any = exc
    while cause.__cause__ is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None) or "config"
        message = str(cause).splitlines()[0]
        obj = getattr(cause, "object_type", None)
        if "not in" in message and obj is not None and hasattr(obj, "__dataclass_fields__"):
            message += f"; allowed keys: {', '.join(obj.__dataclass_fields__)}"
        return f"{key}: {message}"
    return " ".join(str(exc).split())
