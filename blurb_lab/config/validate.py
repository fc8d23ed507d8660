"""Value checks that the type schema cannot express; run before any model or data is loaded."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from omegaconf import ListConfig

from blurb_lab.config.batch import batch_split
from blurb_lab.config.depth import known_shape
from blurb_lab.config.resolvers import recipe_fields_read
from blurb_lab.config.study_recipes import check_recipes
from blurb_lab.errors import ConfigError
from blurb_lab.seeds import SEED_KEYS
from blurb_lab.types import FAMILIES, POOLINGS, SOURCES, TASK_TYPE_NAMES

ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rule(key: str, test: Callable[[Any], bool], allowed: str) -> tuple[str, Callable, str]:
    return key, test, allowed


def _one_of(options: tuple[str, ...] | list[str]) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in options), "one of: " + ", ".join(options)


# Also checked on its own by check_strategy (apply_strategy's callers need not run validate first).
LAYER_DECAY = _rule("strategy.layer_decay", lambda v: _is_number(v) and 0 < v <= 1, "in (0, 1]")
RULES = [
    _rule("optim.lr", lambda v: v > 0, "> 0"),
    _rule("optim.weight_decay", lambda v: v >= 0, ">= 0"),
    _rule("optim.warmup_ratio", lambda v: 0 <= v < 1, "in [0, 1)"),
    _rule("optim.adam_eps", lambda v: v > 0, "> 0"),
    _rule("optim.betas", lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two values in [0, 1)"),
    _rule("optim.gradient_clip_val", lambda v: v >= 0, ">= 0 (0 disables clipping)"),
    _rule("data.batch_size", lambda v: v > 0, "> 0"),
    _rule("trainer.checkpoint_interval_s", lambda v: v >= 0, ">= 0 (0: a resume checkpoint every epoch)"),
    _rule("data.eval_batch_size", lambda v: v > 0, "> 0"),
    _rule("data.num_workers", lambda v: v >= -1, ">= 0, or -1 for automatic"),
    _rule("data.source", *_one_of(("local", "hub"))),
    _rule("data.limit_train_examples", lambda v: v is None or v > 0, "> 0, or null for all"),
    _rule("data.cv_folds", lambda v: v is None or v >= 2, ">= 2, or null for the given train/dev split"),
    _rule("trainer.max_epochs", lambda v: v > 0, "> 0"),
    _rule(
        "trainer.limit_train_batches",
        lambda v: v > 0 and (v <= 1 or float(v).is_integer()),
        "a fraction in (0, 1] or a whole number of batches",
    ),
    _rule("trainer.log_every_n_steps", lambda v: v > 0, "> 0"),
    _rule("trainer.accelerator", *_one_of(ACCELERATORS)),
    _rule("task.max_len", lambda v: v >= 8, ">= 8"),
    # The task's BLURB values, checked even where a recipe or a direct value takes precedence.
    _rule("task.lr", lambda v: _is_number(v) and v > 0, "> 0"),
    _rule("task.batch_size", lambda v: _is_number(v) and v > 0, "> 0"),
    _rule("task.epochs", lambda v: _is_number(v) and v > 0, "> 0"),
    _rule("task.type", *_one_of(TASK_TYPE_NAMES)),
    _rule("model.source", *_one_of(SOURCES)),
    _rule("model.family", *_one_of(FAMILIES)),
    _rule("model.dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
    _rule("model.pooling", *_one_of(POOLINGS)),
    _rule("model.pair_head", *_one_of(("linear", "cosine"))),
    _rule("task.target_scaling", *_one_of(("standardize", "none"))),
    _rule("task.pair_encoding", *_one_of(("cross", "bi"))),
    _rule("strategy.freeze_lower_layers", lambda v: v >= 0, ">= 0"),
    _rule("strategy.reinit_top_layers", lambda v: v >= 0, ">= 0"),
    LAYER_DECAY,
    _rule("logger.wandb_mode", *_one_of(("offline", "online", "disabled"))),
    *(_rule(key, lambda v: 0 <= v < 2**32, "in [0, 2^32)") for key in SEED_KEYS),
]


def _get(cfg: Any, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def label_range(task: Any) -> tuple[float, float] | None:
    """task.label_range as (low, high), or None (no range check); ConfigError unless two finite
    numbers with low < high on a regression task, since every gold label is checked against it."""
    value = task.get("label_range")
    if value is None:
        return None
    shown = list(value) if isinstance(value, (list, tuple, ListConfig)) else value
    if task.type != "sentence_pair_regression":
        raise ConfigError(
            "task.label_range", f"{shown!r} is set, but only sentence_pair_regression labels have a range"
        )
    try:
        low, high = (float(v) for v in shown)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(
            "task.label_range", f"{shown!r} is not allowed; must be [low, high], two finite numbers, low < high"
        )
    return low, high


def _check(rule: tuple[str, Callable, str], value: Any) -> None:
    """Raise ConfigError (key, value, what is allowed) when `value` breaks the rule."""
    key, test, allowed = rule
    if not test(value):
        raise ConfigError(key, f"{value!r} is not allowed; must be {allowed}")


def check_strategy(knobs: Any, depth: int, model: str) -> None:
    """The strategy's block counts fit an encoder of `depth` blocks and do not overlap, and its layer
    decay is in (0, 1]. The one place these are checked: validate() runs it before anything loads
    (depth from config.json), apply_strategy() on the loaded encoder (whose depth a hub model only
    tells once loaded); `model` names the encoder in the message."""
    frozen, reinit = knobs["freeze_lower_layers"], knobs["reinit_top_layers"]
    for key, k in (("freeze_lower_layers", frozen), ("reinit_top_layers", reinit)):
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise ConfigError(f"strategy.{key}", f"{k!r} is not a block count for {model}; allowed 0..{depth}")
        if k > depth:
            raise ConfigError(f"strategy.{key}", f"{k} > {depth} blocks in {model}; allowed 0..{depth}")
    if frozen + reinit > depth:
        raise ConfigError(
            "strategy.reinit_top_layers",
            f"{reinit} re-initialised top blocks overlap {frozen} frozen lower blocks ({depth} in {model}); "
            f"allowed: freeze_lower_layers + reinit_top_layers <= {depth}",
        )
    _check(LAYER_DECAY, knobs["layer_decay"])


def validate(cfg: Any) -> None:
    """Raise ConfigError (one line: key, value, what is allowed) for the first bad value."""
    check_recipes(cfg, recipe_fields_read(cfg))  # first: the rules below resolve values from recipes
    for rule in RULES:
        _check(rule, _get(cfg, rule[0]))
    label_range(cfg.task)
    batch_split(cfg.data, cfg.trainer)
    if cfg.task.pair_encoding == "bi":
        if cfg.task.type != "sentence_pair_regression":
            raise ConfigError("task.pair_encoding", f"'bi' is for sentence-pair similarity, not {cfg.task.type}")
        if cfg.task.label_range is None:
            raise ConfigError("task.pair_encoding", "'bi' maps labels through task.label_range; set it to [low, high]")
    if cfg.model.pair_head == "cosine" and cfg.model.pooling != "mean":
        pooling = cfg.model.pooling
        raise ConfigError("model.pair_head", f"'cosine' mean-pools each sentence, but model.pooling is {pooling!r}")
    shape = known_shape(cfg.model)  # config.json, else model.shape (hub): no download
    limit = shape.get("max_position_embeddings")
    if limit is not None and cfg.task.max_len > limit:
        raise ConfigError(
            "task.max_len",
            f"{cfg.task.max_len} is beyond the model's limit; must be <= {limit} for {cfg.model.name}",
        )
    depth = shape.get("num_hidden_layers")
    if depth is not None and not cfg.strategy.auto:  # auto fills in the knobs (and clips them) at apply time
        check_strategy(cfg.strategy, depth, cfg.model.name)
