"""Turn a strategy config into modified weights plus AdamW parameter groups.

The three mechanisms (freeze lower layers, layer-wise lr decay, re-initialise top layers) compose
in one run, so they are applied together here and the result is recorded in a `StrategyPlan`
that the run can print (`inspect`) and save next to its metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from blurb_lab.config.validate import check_strategy
from blurb_lab.errors import ConfigError, ModelError
from blurb_lab.strategies.layers import EncoderLayers, find_layers

KNOBS = (
    "freeze_lower_layers",
    "freeze_embeddings",
    "layer_decay",
    "reinit_top_layers",
    "reinit_pooler",
)
_DEFAULT_KNOBS: dict[str, Any] = {
    "freeze_lower_layers": 0,
    "freeze_embeddings": False,
    "layer_decay": 1.0,
    "reinit_top_layers": 0,
    "reinit_pooler": False,
}
AUTO_FREEZE_LOWER_LAYERS = 3  # the freeze_lower preset; `auto` clips it to L-1 at apply time


@dataclass
class StrategyPlan:
    """What a strategy did to the model and the optimizer groups it asks for."""

    param_groups: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    frozen: list[str]
    reinitialized: list[str]
    n_trainable: int
    n_frozen: int
    lr: float
    weight_decay: float
    n_blocks: int
    knobs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (no tensors) for the run's output folder."""
        return {
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "n_blocks": self.n_blocks,
            "strategy": dict(self.knobs),
            "rows": [dict(r) for r in self.rows],
            "frozen": list(self.frozen),
            "reinitialized": list(self.reinitialized),
            "n_trainable": self.n_trainable,
            "n_frozen": self.n_frozen,
            "notes": list(self.notes),
        }

    def format_table(self) -> str:
        """A fixed-width table of the optimizer groups, for `inspect` and logs."""
        lines = [f"{'group':<22} {'lr':>10} {'weight decay':>12} {'params':>12}"]
        lines.append("-" * len(lines[0]))
        for r in self.rows:
            group, wd, n = r["group"], r["weight_decay"], r["n_params"]
            lines.append(f"{group:<22} {r['lr']:>10.3e} {wd:>12g} {n:>12,}")
        lines.append(f"trainable params: {self.n_trainable:,}  frozen params: {self.n_frozen:,}")
        lines.append(f"frozen: {', '.join(self.frozen) or 'none'}")
        lines.append(f"re-initialised: {', '.join(self.reinitialized) or 'none'}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    """Read a knob from a dataclass, DictConfig or plain mapping."""
    if isinstance(cfg, Mapping):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def _no_decay(name: str, param: nn.Parameter) -> bool:
    """Biases, norm weights and any 1-D parameter are exempt from weight decay (BERT recipe)."""
    return param.ndim <= 1 or name.endswith("bias") or "norm" in name.lower()


@torch.no_grad()
def reinit_module(module: nn.Module, std: float) -> None:
    """Draw `module` afresh as at pretraining with torch.nn.init (HF's _init_weights is skipped
    for loaded weights in transformers 5). Uses the global torch RNG, so the caller's seed rules."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, mean=0.0, std=std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, mean=0.0, std=std)
            if sub.padding_idx is not None:
                sub.weight[sub.padding_idx].zero_()
        elif isinstance(sub, nn.LayerNorm):
            if sub.weight is not None:
                nn.init.ones_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif any(True for _ in sub.parameters(recurse=False)):
            raise ModelError(f"cannot re-initialise {type(sub).__name__}: unknown layer type")


# A unit the strategy acts on as one: (name, its modules, its learning rate).
Unit = tuple[str, list[nn.Module], float]


def apply_strategy(
    encoder: nn.Module,
    head: nn.Module,
    strategy: Any,
    lr: float,
    weight_decay: float,
    extra_pooler: nn.Module | None = None,
) -> StrategyPlan:
    """Re-initialise and freeze in place, and return the AdamW groups the strategy asks for.

    `head` trains at `lr` and is never frozen or re-initialised. `extra_pooler` (a module inside
    `head`, for encoders without a pooler such as ELECTRA) stands in as the pooler when the
    encoder has none. Knobs are used as given; with `strategy.auto` true (knobs already filled
    in by `resolve_auto`), freeze_lower_layers is clipped to L-1 so the top block always trains.
    """
    layers = find_layers(encoder)
    model = type(encoder).__name__
    n_blocks = len(layers.blocks)
    knobs = {k: _get(strategy, k, _DEFAULT_KNOBS[k]) for k in KNOBS}
    auto = _get(strategy, "auto", False)
    notes = _clip_auto_freeze(knobs, n_blocks) if auto else []
    check_strategy(knobs, n_blocks, model)  # before anything is touched
    pooler = layers.pooler if layers.pooler is not None else extra_pooler
    if knobs["reinit_pooler"] and pooler is None:
        notes.append(f"reinit_pooler: no pooler in use ({model} with this model.pooling); nothing to re-initialise")
    units = _units(layers, pooler, head, lr, knobs["layer_decay"])
    reinitialized = _reinit_top(units, n_blocks, knobs, pooler, _init_std(encoder))
    frozen = _freeze_bottom(units, knobs)
    groups, rows, n_trainable, n_frozen = _param_groups(units, weight_decay)
    return StrategyPlan(
        param_groups=groups,
        rows=rows,
        frozen=frozen,
        reinitialized=reinitialized,
        n_trainable=n_trainable,
        n_frozen=n_frozen,
        lr=lr,
        weight_decay=weight_decay,
        n_blocks=n_blocks,
        knobs={"name": _get(strategy, "name", ""), "auto": bool(auto), **knobs},
        notes=notes,
    )


def _clip_auto_freeze(knobs: dict[str, Any], n_blocks: int) -> list[str]:
    """Clip freeze_lower_layers to L-1 in place, returning the note that says so. `auto` picks the
    freeze_lower preset before the model's depth is known, and a model with fewer blocks than the
    preset freezes must still train its top block; an explicit strategy is used as given."""
    k = knobs["freeze_lower_layers"]
    if not isinstance(k, int):
        return []
    clipped = max(0, min(k, n_blocks - 1))
    if clipped == k:
        return []
    knobs["freeze_lower_layers"] = clipped
    return [f"auto: freeze_lower_layers clipped {k} -> {clipped} ({n_blocks} blocks)"]


def _units(layers: EncoderLayers, pooler: nn.Module | None, head: nn.Module, lr: float, xi: float) -> list[Unit]:
    """The units in order embeddings, blocks bottom to top, pooler, head, each with its layer-wise
    lr (lr * xi^depth from the top): one ordered list that re-initialising (top blocks), freezing
    (bottom units) and the optimizer groups all slice, so they agree on what a layer is."""
    n_blocks = len(layers.blocks)
    units: list[Unit] = [("embeddings", layers.embeddings, lr * xi ** (n_blocks + 1))]
    for i, block in enumerate(layers.blocks, start=1):
        units.append((f"block_{i:02d}", [block], lr * xi ** (n_blocks - i + 1)))
    if pooler is not None:
        units.append(("pooler", [pooler], lr))
    units.append(("head", [head], lr))
    return units


def _init_std(encoder: nn.Module) -> float:
    """The encoder's own init scale (config.initializer_range, BERT's 0.02 when absent), so a
    re-initialised layer starts as it did at pretraining."""
    return float(getattr(getattr(encoder, "config", None), "initializer_range", 0.02) or 0.02)


def _reinit_top(
    units: list[Unit], n_blocks: int, knobs: dict[str, Any], pooler: nn.Module | None, std: float
) -> list[str]:
    """Re-initialise the top reinit_top_layers blocks (and the pooler with reinit_pooler): their
    pretraining-specific weights are what a small fine-tuning set struggles to move away from.
    Returns the names of the units drawn afresh, in order."""
    reinitialized: list[str] = []
    for name, modules, _ in units[1 + n_blocks - knobs["reinit_top_layers"] : 1 + n_blocks]:
        for m in modules:
            reinit_module(m, std)
        reinitialized.append(name)
    if knobs["reinit_pooler"] and pooler is not None:
        reinit_module(pooler, std)
        reinitialized.append("pooler")
    return reinitialized


def _freeze_bottom(units: list[Unit], knobs: dict[str, Any]) -> list[str]:
    """Freeze the embeddings plus the bottom freeze_lower_layers blocks: no gradient, so they also
    stay out of the optimizer (general features kept, fewer weights to fit). Returns their names."""
    k_freeze = knobs["freeze_lower_layers"]
    if not (k_freeze > 0 or knobs["freeze_embeddings"]):
        return []
    for _, modules, _ in units[: 1 + k_freeze]:
        for m in modules:
            m.requires_grad_(False)
    return [name for name, _, _ in units[: 1 + k_freeze]]


def _param_groups(
    units: list[Unit], weight_decay: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
    """One decay and one no-decay AdamW group per unit, in unit order, and a row per group for the
    plan's table; returns (groups, rows, trainable params, frozen params). Each parameter is counted
    once: the extra pooler also lives in the head, so the earlier unit claims it."""
    seen: set[int] = set()
    groups: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    n_trainable = n_frozen = 0
    for unit, modules, unit_lr in units:
        buckets: dict[str, list[torch.Tensor]] = {"decay": [], "no_decay": []}
        for m in modules:
            for pname, p in m.named_parameters():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                if not p.requires_grad:
                    n_frozen += p.numel()
                    continue
                n_trainable += p.numel()
                buckets["no_decay" if _no_decay(pname, p) else "decay"].append(p)
        for kind, params in buckets.items():
            if not params:
                continue
            wd = weight_decay if kind == "decay" else 0.0
            gname = f"{unit}/{kind}"
            groups.append({"params": params, "lr": unit_lr, "weight_decay": wd, "name": gname})
            n_params = sum(p.numel() for p in params)
            rows.append({"group": gname, "layer": unit, "lr": unit_lr, "weight_decay": wd, "n_params": n_params})
    return groups, rows, n_trainable, n_frozen


def resolve_auto(strategy: Any, model_cfg: Any, task_cfg: Any) -> tuple[str, dict[str, Any]]:
    """Pick a preset from the study's findings when `strategy.auto` is true.

    Returns (preset name, full knob set to merge into the strategy config); the knob dict holds
    only StrategyConfig fields so it merges into a structured config. With auto false it returns
    (strategy.name, {}). Rules, first match wins: sentence-similarity task (BIOSSES) -> reinit_top
    (top block + pooler); BERT small/base -> freeze_lower (3 blocks; apply_strategy clips to L-1
    because L is unknown here); BERT large or any ELECTRA -> layerwise_decay (xi = 0.9).
    """
    if not _get(strategy, "auto", False):
        return str(_get(strategy, "name", "standard")), {}
    family = str(_get(model_cfg, "family", "")).lower()
    size = str(_get(model_cfg, "size", "")).lower()
    if _get(task_cfg, "type", "") == "sentence_pair_regression":
        return "reinit_top", {**_DEFAULT_KNOBS, "reinit_top_layers": 1, "reinit_pooler": True}
    if family == "bert" and size in ("small", "base"):
        return "freeze_lower", {**_DEFAULT_KNOBS, "freeze_lower_layers": AUTO_FREEZE_LOWER_LAYERS}
    if (family == "bert" and size == "large") or family == "electra":
        return "layerwise_decay", {**_DEFAULT_KNOBS, "layer_decay": 0.9}
    raise ConfigError(
        "strategy.auto",
        f"the study's findings cover bert (small/base/large) and electra, not {family}/{size}; "
        "choose a strategy explicitly",
    )
