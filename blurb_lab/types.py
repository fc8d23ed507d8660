"""Types and names that several layers share (data, tasks, models, config), kept here so that none of
them imports another just for a name: the validator checks a config against them without torch."""

from __future__ import annotations

from typing import Any

# One example as a reader gives it: the file's fields plus our `_source` and `_line` (keys starting
# with `_` are ours, not the file's).
Record = dict[str, Any]

# Names a config may pick; the classes behind them live in tasks/ and models/.
TASK_TYPE_NAMES = (
    "token_classification",
    "sequence_classification",
    "pair_classification",
    "multilabel_classification",
    "sentence_pair_regression",
)
POOLINGS = ("pooler", "cls", "mean")
SOURCES = ("hub", "local", "package", "random")
FAMILIES = ("bert", "electra", "roberta")
