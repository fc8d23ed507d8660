"""Readers for BLURB split files: the canonical jsonl format, or the same records from the hub.

Every problem is reported as a DataError naming the file and line, never a crash from deep inside.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from blurb_lab.errors import ConfigError, DataError
from blurb_lab.types import Record

SPLITS = ("train", "dev", "test")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 file; a missing, unreadable or non-UTF-8 file is a DataError."""
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        with path.open(encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror})") from None


def read_jsonl(path: Path) -> list[Record]:
    """One JSON object per line; blank lines are skipped."""
    records: list[Record] = []
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"bad JSON ({exc.msg})", number) from None
        except (ValueError, RecursionError) as exc:  # an integer of over 4300 digits; nesting too deep
            raise DataError(path, f"bad JSON ({str(exc).split(':')[0]})", number) from None
        if not isinstance(record, dict):
            raise DataError(path, "expected a JSON object", number)
        record["_line"] = number
        record["_source"] = str(path)
        records.append(record)
    if not records:
        raise DataError(path, "empty split")
    return records


def read_conll(path: Path) -> list[Record]:
    """CoNLL/IOB files (`token<TAB>tag`, blank line between sentences), as in Crichton et al."""
    records: list[Record] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []  # each token's line, so a bad token is reported where it is
    start = 1

    def flush() -> None:
        if tokens:
            records.append({"id": f"{path.stem}-{len(records)}", "tokens": list(tokens), "ner_tags": list(tags),
                            "_line": start, "_source": str(path), "_token_lines": list(lines)})  # fmt: skip
        tokens.clear()
        tags.clear()
        lines.clear()

    for number, line in _lines(path):
        text = line.rstrip("\r\n")
        if not text.strip() or text.startswith("-DOCSTART-"):
            flush()
            start = number + 1
            continue
        parts = text.split("\t")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise DataError(path, f"expected 'token<TAB>tag', got {text!r:.60}", number)
        tokens.append(parts[0])
        tags.append(parts[1])
        lines.append(number)
    flush()
    if not records:
        raise DataError(path, "empty split")
    return records


def split_file(folder: Path, split: str, fmt: str) -> Path:
    """The file of a split: <split>.jsonl, or for CoNLL <split>.tsv (dev also as devel.tsv)."""
    if fmt == "conll":
        if split == "dev" and not (folder / "dev.tsv").exists() and (folder / "devel.tsv").exists():
            return folder / "devel.tsv"
        return folder / f"{split}.tsv"
    return folder / f"{split}.jsonl"


def task_dir(root: str, task_name: str, subdir: str = "") -> Path:
    return Path(root).expanduser() / (subdir or task_name)


def read_local_splits(
    root: str, task_name: str, subdir: str = "", fmt: str = "jsonl", splits: tuple[str, ...] = SPLITS
) -> dict[str, list[Record]]:
    """Read <root>/<task>/<split>.jsonl (or .tsv); a missing file or folder names the path expected."""
    folder = task_dir(root, task_name, subdir)
    if fmt not in ("jsonl", "conll"):
        raise DataError(folder, f"unknown task.format '{fmt}'; allowed: jsonl, conll")
    if not folder.is_dir():
        expected = split_file(folder, splits[0], fmt)
        raise DataError(folder, f"task folder not found (set data.root or BLURB_DATA; expected {expected})")
    reader = read_conll if fmt == "conll" else read_jsonl
    return {split: reader(split_file(folder, split, fmt)) for split in splits}


def read_hub_splits(
    path: str, name: str | None, columns: dict[str, str], splits: dict[str, str], wanted: tuple[str, ...] = SPLITS
) -> dict[str, list[Record]]:
    """Load a task with `datasets` (hub id or a local folder laid out as the hub gives it)."""
    import datasets
    from datasets.utils import logging as datasets_logging

    bars = datasets_logging.is_progress_bar_enabled()
    datasets_logging.disable_progress_bar()  # "Generating split" bars: an error must stay one line
    try:
        dataset = datasets.load_dataset(path, name) if name else datasets.load_dataset(path)
    except Exception as exc:  # datasets raises many types for a missing or offline dataset
        raise DataError(path, f"cannot load from the hub: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    finally:
        if bars:
            datasets_logging.enable_progress_bar()
    out: dict[str, list[Record]] = {}
    for split in wanted:
        theirs = splits.get(split, "validation" if split == "dev" else split)
        if theirs not in dataset:
            raise DataError(path, f"split '{theirs}' not found; it has {sorted(dataset)}")
        rows = []
        names = _class_label_names(dataset[theirs].features)
        for index, row in enumerate(dataset[theirs]):
            row = {k: _label_names(v, names[k]) if k in names else v for k, v in row.items()}
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


def load_splits(cfg: Any, splits: tuple[str, ...] = SPLITS) -> dict[str, list[Record]]:
    """A composed config's task splits, from data.root or the hub. With data.cv_folds, train and dev
    are re-split into cross-validation folds (cv_split); with data.limit_train_examples only the
    first N training records are kept (dev and test stay whole, so scores remain comparable)."""
    folds = cfg.data.get("cv_folds")
    wanted = tuple(dict.fromkeys((*splits, "train", "dev"))) if folds else splits
    if cfg.data.source == "hub":
        hub = cfg.task.hub
        if not hub.path:
            raise ConfigError("task.hub.path", f"no hub dataset id for {cfg.task.name}; set task.hub.path=<id>")
        out = read_hub_splits(hub.path, hub.name, dict(hub.columns), dict(hub.splits), wanted)
    else:
        out = read_local_splits(cfg.data.root, cfg.task.name, cfg.task.dir, cfg.task.format, wanted)
    if folds:
        if int(folds) > len(out["train"]) + len(out["dev"]):
            pooled = len(out["train"]) + len(out["dev"])
            raise ConfigError("data.cv_folds", f"{folds} folds but train + dev hold {pooled} records")
        out["train"], out["dev"] = cv_split(out["train"], out["dev"], int(folds), int(cfg.seed))
        out = {split: out[split] for split in splits}
    limit = cfg.data.limit_train_examples
    if limit is not None and "train" in out:
        out["train"] = out["train"][:limit]
    return out


def cv_split(train: list[Record], dev: list[Record], folds: int, seed: int) -> tuple[list[Record], list[Record]]:
    """Repeated k-fold cross-validation over train + dev, keyed by the run's seed: seed s uses fold
    (s - 1) mod k as dev, from a shuffle drawn by repeat (s - 1) // k. So seeds 1..k cover every
    record once as dev, and a recipe search's mean dev score rests on all of train + dev rather than
    on one small dev split (BIOSSES: 16 pairs). Test is never touched. Records keep file order
    inside each fold; ids seen in both splits get their split name as a prefix to stay unique."""
    clash = {r["id"] for r in train} & {r["id"] for r in dev}
    pool = [
        {**r, "id": f"{split}:{r['id']}"} if r["id"] in clash else r
        for split, records in (("train", train), ("dev", dev))
        for r in records
    ]
    order = list(range(len(pool)))
    random.Random(f"cv-{(seed - 1) // folds}").shuffle(order)
    held = set(order[(seed - 1) % folds :: folds])
    return [r for i, r in enumerate(pool) if i not in held], [r for i, r in enumerate(pool) if i in held]


def _class_label_names(features: Any) -> dict[str, list[str]]:
    """Columns stored as ClassLabel ids (bigbio/blurb's ner_tags): their label names."""
    import datasets

    out = {}
    for column, feature in features.items():
        inner = getattr(feature, "feature", feature)  # Sequence(ClassLabel) or List(ClassLabel)
        if isinstance(inner, datasets.ClassLabel):
            out[column] = inner.names
    return out


def _label_names(value: Any, names: list[str]) -> Any:
    return [names[v] for v in value] if isinstance(value, list) else names[value]
