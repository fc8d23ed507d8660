"""Readers for BLURB split files: the canonical jsonl format, or the same records from the hub.

Every problem is reported as a DataError naming the file and line, never a crash from deep inside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from blurb_lab.errors import DataError

SPLITS = ("train", "dev", "test")
Record = dict[str, Any]


def read_jsonl(path: Path) -> list[Record]:
    """One JSON object per line; blank lines are skipped."""
    if not path.is_file():
        raise DataError(path, "file not found")
    records: list[Record] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(path, f"bad JSON ({exc.msg})", number) from None
                if not isinstance(record, dict):
                    raise DataError(path, "expected a JSON object", number)
                record["_line"] = number
                record["_source"] = str(path)
                records.append(record)
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror})") from None
    if not records:
        raise DataError(path, "empty split")
    return records


def task_dir(root: str, task_name: str, subdir: str = "") -> Path:
    return Path(root).expanduser() / (subdir or task_name)


def read_local_splits(root: str, task_name: str, subdir: str = "") -> dict[str, list[Record]]:
    """Read <root>/<task>/{train,dev,test}.jsonl; a missing task folder names the path expected."""
    folder = task_dir(root, task_name, subdir)
    if not folder.is_dir():
        raise DataError(folder, f"task folder not found (set data.root or BLURB_DATA; expected {folder}/train.jsonl)")
    return {split: read_jsonl(folder / f"{split}.jsonl") for split in SPLITS}


def read_hub_splits(
    path: str, name: str | None, columns: dict[str, str], splits: dict[str, str]
) -> dict[str, list[Record]]:
    """Load a task with `datasets` (hub id or a local folder laid out as the hub gives it)."""
    import datasets

    try:
        dataset = datasets.load_dataset(path, name) if name else datasets.load_dataset(path)
    except Exception as exc:  # datasets raises many types for a missing or offline dataset
        raise DataError(path, f"cannot load from the hub: {type(exc).__name__}: {exc}") from None
    out: dict[str, list[Record]] = {}
    for split in SPLITS:
        theirs = splits.get(split, "validation" if split == "dev" else split)
        if theirs not in dataset:
            raise DataError(path, f"split '{theirs}' not found; it has {sorted(dataset)}")
        rows = []
        for index, row in enumerate(dataset[theirs]):
            record = {ours: row[col] for ours, col in columns.items() if col in row}
            for key, value in row.items():
                record.setdefault(key, value)
            record.setdefault("id", f"{split}-{index}")
            record["_line"] = index + 1
            record["_source"] = f"{path}[{theirs}]"
            rows.append(record)
        if not rows:
            raise DataError(f"{path}[{theirs}]", "empty split")
        out[split] = rows
    return out
