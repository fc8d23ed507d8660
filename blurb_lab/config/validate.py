"""Value checks that the type schema cannot express; run before any model or data is loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blurb_lab.errors import ConfigError
from blurb_lab.models.loading import FAMILIES, SOURCES, model_shape
from blurb_lab.tasks import TASK_TYPES

ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")


def _rule(key: str, test: Callable[[Any], bool], allowed: str) -> tuple[str, Callable, str]:
    return key, test, allowed


def _one_of(options: tuple[str, ...] | list[str]) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in options), "one of: " + ", ".join(options)


RULES = [
    _rule("optim.lr", lambda v: v > 0, "> 0"),
    _rule("optim.weight_decay", lambda v: v >= 0, ">= 0"),
    _rule("optim.warmup_ratio", lambda v: 0 <= v < 1, "in [0, 1)"),
    _rule("optim.adam_eps", lambda v: v > 0, "> 0"),
    _rule("optim.betas", lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two values in [0, 1)"),
    _rule("optim.gradient_clip_val", lambda v: v >= 0, ">= 0 (0 disables clipping)"),
    _rule("data.batch_size", lambda v: v > 0, "> 0"),
    _rule("data.eval_batch_size", lambda v: v > 0, "> 0"),
    _rule("data.num_workers", lambda v: v >= -1, ">= 0, or -1 for automatic"),
    _rule("data.source", *_one_of(("local", "hub"))),
    _rule("trainer.max_epochs", lambda v: v > 0, "> 0"),
    _rule(
        "trainer.limit_train_batches",
        lambda v: v > 0 and (v <= 1 or float(v).is_integer()),
        "a fraction in (0, 1] or a whole number of batches",
    ),
    _rule("trainer.log_every_n_steps", lambda v: v > 0, "> 0"),
    _rule("trainer.accelerator", *_one_of(ACCELERATORS)),
    _rule("task.max_len", lambda v: v >= 8, ">= 8"),
    _rule("task.type", *_one_of(list(TASK_TYPES))),
    _rule("model.source", *_one_of(SOURCES)),
    _rule("model.family", *_one_of(FAMILIES)),
    _rule("model.dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
    _rule("strategy.freeze_lower_layers", lambda v: v >= 0, ">= 0"),
    _rule("strategy.reinit_top_layers", lambda v: v >= 0, ">= 0"),
    _rule("strategy.layer_decay", lambda v: 0 < v <= 1, "in (0, 1]"),
    _rule("logger.wandb_mode", *_one_of(("offline", "online", "disabled"))),
    _rule("seed", lambda v: 0 <= v < 2**32, "in [0, 2^32)"),
]


def _get(cfg: Any, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def validate(cfg: Any) -> None:
    """Raise ConfigError (one line: key, value, what is allowed) for the first bad value."""
    for key, test, allowed in RULES:
        value = _get(cfg, key)
        if not test(value):
            raise ConfigError(key, f"{value!r} is not allowed; must be {allowed}")
    try:
        shape = model_shape(cfg.model)
    except Exception:  # a missing folder is reported when the model is loaded
        shape = {}
    limit = shape.get("max_position_embeddings")
    if limit is not None and cfg.task.max_len > limit:
        raise ConfigError(
            "task.max_len",
            f"{cfg.task.max_len} is beyond the model's limit; must be <= {limit} for {cfg.model.name}",
        )
    depth = shape.get("num_hidden_layers")
    frozen, reinit = cfg.strategy.freeze_lower_layers, cfg.strategy.reinit_top_layers
    if depth is not None and not cfg.strategy.auto and frozen <= depth and reinit <= depth and frozen + reinit > depth:
        raise ConfigError(
            "strategy.reinit_top_layers",
            f"{reinit} re-initialised top blocks overlap {frozen} frozen lower blocks ({depth} in {cfg.model.name}); "
            f"allowed: freeze_lower_layers + reinit_top_layers <= {depth}",
        )
    for key in ("freeze_lower_layers", "reinit_top_layers"):
        k = cfg.strategy[key]
        if depth is not None and k > depth and not cfg.strategy.auto:
            raise ConfigError(f"strategy.{key}", f"{k} > {depth} blocks in {cfg.model.name}; allowed 0..{depth}")
