"""BLURB's metrics as torchmetrics Metrics whose states are summed counts.

`build_metric` maps a task config's `metric` name (with its labels) to a fresh Metric. Under DDP the
predictions of every rank are gathered first (blurb_lab.distributed) and each rank scores the whole
set, so the metrics never sync: a second reduction would count every example world-size times, and
under NCCL it would fail on the CPU tensors the states live in.
"""

from __future__ import annotations

from collections.abc import Sequence

from torchmetrics import Metric, PearsonCorrCoef

from blurb_lab.errors import ConfigError
from blurb_lab.metrics.classification import Accuracy, BinaryF1, MicroF1, MultiLabelMicroF1
from blurb_lab.metrics.entity import EntityF1, TokenMacroF1, extract_entities

__all__ = [
    "METRICS",
    "Accuracy",
    "BinaryF1",
    "EntityF1",
    "MicroF1",
    "MultiLabelMicroF1",
    "TokenMacroF1",
    "build_metric",
    "extract_entities",
]

METRICS = (
    "pearson",
    "entity_f1",
    "pico_macro_f1",
    "micro_f1",
    "positive_f1",
    "multilabel_micro_f1",
    "accuracy",
)


def _need_labels(name: str, labels: Sequence[str] | None) -> list[str]:
    if not labels:
        raise ConfigError("task.labels", f"metric {name!r} needs the task's labels; none are set")
    return list(labels)


def _negative_index(name: str, labels: list[str], negative_label: str | None) -> int:
    if negative_label is None or negative_label not in labels:
        raise ConfigError(
            "task.negative_label",
            f"{negative_label!r}: metric {name!r} needs the negative class, one of: {', '.join(labels)}",
        )
    return labels.index(negative_label)


def build_metric(
    name: str,
    labels: Sequence[str] | None = None,
    negative_label: str | None = None,
    strict: bool = False,
) -> Metric:
    """A fresh Metric for a task's `metric` name; labels only where the name needs them.

    `strict` applies to `entity_f1` only (seqeval's strict IOB2 mode instead of conlleval's).
    """
    local = {"sync_on_compute": False}  # scored on gathered predictions: never reduce again
    if name == "pearson":
        return PearsonCorrCoef(**local)
    if name == "entity_f1":
        return EntityF1(strict=strict, **local)
    if name == "accuracy":
        return Accuracy(**local)
    if name == "pico_macro_f1":
        names = _need_labels(name, labels)
        if all(label == "O" for label in names):
            raise ConfigError("task.labels", f"metric {name!r} needs classes besides O, got {names}")
        return TokenMacroF1(names, ignore=["O"], **local)
    if name == "multilabel_micro_f1":
        return MultiLabelMicroF1(len(_need_labels(name, labels)), **local)
    if name == "micro_f1":
        names = _need_labels(name, labels)
        return MicroF1(len(names), _negative_index(name, names, negative_label), **local)
    if name == "positive_f1":
        names = _need_labels(name, labels)
        if len(names) != 2:
            raise ConfigError("task.labels", f"metric 'positive_f1' needs exactly two labels, got {names}")
        return BinaryF1(positive_index=1 - _negative_index(name, names, negative_label), **local)
    raise ConfigError("task.metric", f"{name!r} is not a metric; allowed: {', '.join(METRICS)}")
