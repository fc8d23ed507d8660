"""Task types by name: a task config's `type` picks one."""

from __future__ import annotations

from typing import Any

from blurb_lab.errors import ConfigError
from blurb_lab.tasks.base import TaskType
from blurb_lab.tasks.cross_cosine import CrossCosineRegression
from blurb_lab.tasks.sequence import BiEncoderRegression, Classification, MultiLabel, PairRegression
from blurb_lab.tasks.token import TokenClassification

TASK_TYPES: dict[str, type[TaskType]] = {
    "token_classification": TokenClassification,
    "sequence_classification": Classification,
    "pair_classification": Classification,
    "multilabel_classification": MultiLabel,
    "sentence_pair_regression": PairRegression,
}


def get_task_type(cfg: Any, pair_head: str = "linear") -> TaskType:
    """The task type for task config `cfg`; `pair_head` (model.pair_head) scores cross-encoded
    similarity pairs."""
    if cfg.type not in TASK_TYPES:
        raise ConfigError("task.type", f"unknown task type '{cfg.type}'; allowed: {', '.join(TASK_TYPES)}")
    if cfg.type == "sentence_pair_regression" and cfg.get("pair_encoding", "cross") == "bi":
        return BiEncoderRegression(cfg)
    if cfg.type == "sentence_pair_regression" and pair_head == "cosine":
        return CrossCosineRegression(cfg)
    return TASK_TYPES[cfg.type](cfg)
