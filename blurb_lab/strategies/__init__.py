"""Stabilisation strategies: freeze lower layers, layer-wise lr decay, re-initialise top layers."""

from blurb_lab.strategies.apply import StrategyPlan, apply_strategy, reinit_module, resolve_auto
from blurb_lab.strategies.layers import EncoderLayers, find_layers

__all__ = [
    "EncoderLayers",
    "StrategyPlan",
    "apply_strategy",
    "find_layers",
    "reinit_module",
    "resolve_auto",
]
