"""Value checks on records that parse but mean nothing: non-finite numbers, labels outside the task's
declared range, duplicate ids and empty texts.

Such values do not crash anything; they poison results silently (a NaN label turns into a
`diverged` run, a study of optimiser stability then counts bad input as instability). So each one is
a DataError naming file, line and field, raised before any model loads. Records carry `_source` and
`_line` (see readers.py); keys starting with `_` are ours, not the file's, and are not checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from blurb_lab.config.validate import label_range
from blurb_lab.data.readers import load_splits
from blurb_lab.errors import DataError
from blurb_lab.types import Record


def check_splits(task_type: Any, splits: Mapping[str, list[Record]]) -> None:
    """Check every record of every split; the first problem (in file order) is raised as a DataError.

    Per record: every number finite, then the task type's own shape checks (fields, label set),
    then non-empty texts, a finite gold label inside `task.label_range`, and an id unseen in the split.
    """
    bounds = label_range(task_type.cfg)
    text_fields = [str(f) for f in task_type.cfg.text_fields]  # plain lists: config access is slow per record
    label_field = str(task_type.cfg.label_field)
    for records in splits.values():
        seen: dict[str, Record] = {}
        for record in records:
            check_finite(record)
            task_type.check_record(record)
            _check_texts(text_fields, record)
            _check_gold(task_type.gold(record), label_field, record, bounds)
            _check_unique_id(record, seen)


def check_finite(record: Record) -> None:
    """Any number anywhere in a record is finite: Python's json reads NaN, Infinity and 1e400 (inf)."""
    for key, value in record.items():
        if not str(key).startswith("_"):
            try:
                found = _non_finite(value)
            except RecursionError:  # json reads nesting a few hundred deep
                raise _fail(record, f"field {str(key)!r} is nested too deeply") from None
            if found is not None:
                where, problem = found
                raise _fail(record, f"field {str(key) + where!r} is {problem}; every number must be finite")


def check_task_data(cfg: Any) -> None:
    """Read and check all splits of a composed config's task (the CLI's preflight: no sweep dir yet)."""
    from blurb_lab.tasks import get_task_type

    task_type = get_task_type(cfg.task)
    check_splits(task_type, load_splits(cfg))


def _fail(record: Record, message: str, line: int | None = None) -> DataError:
    return DataError(record.get("_source", "<data>"), message, line if line is not None else record.get("_line"))


def _non_finite(value: Any) -> tuple[str, str] | None:
    """(where inside the value, e.g. "[3]", how it fails) for the first non-finite number, or None.

    Spelt as in a JSON file (NaN, Infinity). Strings are skipped first: token lists are long.
    """
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return "", "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int):
        if value.bit_length() < 1000:
            return None
        try:
            float(value)  # the task reads numbers as floats
        except OverflowError:
            return "", "an integer too large to be a finite float"
        return None
    if isinstance(value, (list, tuple)):
        for index, inner in enumerate(value):
            if type(inner) is not str:
                found = _non_finite(inner)
                if found is not None:
                    return f"[{index}]{found[0]}", found[1]
    elif isinstance(value, dict):
        for key, inner in value.items():
            found = _non_finite(inner)
            if found is not None:
                return f".{key}{found[0]}", found[1]
    return None


def _check_texts(text_fields: list[str], record: Record) -> None:
    """Text fields and tokens hold text: an empty or whitespace-only one tokenises to nothing."""
    token_lines = record.get("_token_lines")
    for field in text_fields:
        value = record.get(field)
        if isinstance(value, str) and not value.strip():
            raise _fail(record, f"field {field!r} is empty or whitespace only ({value!r:.20})")
        if isinstance(value, list):
            for index, token in enumerate(value):
                if isinstance(token, str) and not token.strip():
                    line = token_lines[index] if isinstance(token_lines, list) and index < len(token_lines) else None
                    raise _fail(
                        record, f"token {index} of field {field!r} is empty or whitespace only ({token!r:.20})", line
                    )


def _check_gold(gold: Any, field: str, record: Record, bounds: tuple[float, float] | None) -> None:
    """The label as the task reads it (a string "nan" becomes a float) is finite and inside the range."""
    found = _non_finite(gold)
    if found is not None:
        raise _fail(record, f"field {field!r} is {record.get(field)!r:.40}, read as {found[1]}; labels must be finite")
    if bounds is not None and isinstance(gold, (int, float)) and not isinstance(gold, bool):
        low, high = bounds
        if not low <= gold <= high:
            raise _fail(record, f"field {field!r} is {gold!r}, outside task.label_range [{low}, {high}]")


def _check_unique_id(record: Record, seen: dict[str, Record]) -> None:
    """Evaluation and the evaluator join predictions to gold by id: two records with one id are ambiguous."""
    if record.get("id") is None:
        return
    value = record["id"]
    key = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else repr(value)  # 7 == "7"
    first = seen.get(key)
    if first is not None:
        raise _fail(record, f"duplicate id {value!r:.60} in this split (first on line {first.get('_line')})")
    seen[key] = record
