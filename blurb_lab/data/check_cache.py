"""The preflight's data check, once per dataset: a record under data.cache_dir says that these exact
split files passed these checks, so an unchanged dataset is read and checked once, not before every run.

The record's name is a fingerprint of what decides the check's outcome: each split file's absolute
path, size, mtime_ns and sha256 (hashing the bytes costs far less than parsing them, and catches an
edit that keeps size and mtime), the task config, the data settings that decide what is read, and
the source of the code that reads and checks. Only a check that passed is recorded; an error is
raised again on every run. Hub data has no local files to fingerprint: it is checked every time.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from blurb_lab.cache import code_digest, file_digest, fingerprint
from blurb_lab.data.checks import check_task_data
from blurb_lab.data.readers import SPLITS, split_file, task_dir

# The modules whose code decides whether data passes: a change to any of them checks every dataset again.
_CHECK_CODE = ("data/checks.py", "data/readers.py", "config/validate.py", "tasks")


def check_task_data_once(cfg: Any) -> bool:
    """check_task_data(cfg) unless a record says the same files passed the same check; True when
    the check ran. A DataError propagates and leaves no record."""
    before = check_key(cfg)
    if before is not None and _passed(_record_path(cfg, before)):
        return False
    check_task_data(cfg)
    if before is not None and check_key(cfg) == before:  # the files did not change while being read
        _write_record(_record_path(cfg, before), cfg)
    return True


def passed_before(cfg: Any) -> bool:
    """Whether a record says these exact files passed the check for this config (the preflight's, or
    an earlier job's), so a job need not check the splits it reads again."""
    key = check_key(cfg)
    return key is not None and _passed(_record_path(cfg, key))


def check_key(cfg: Any) -> str | None:
    """The fingerprint of everything that decides the check's outcome, or None when it cannot be
    taken (hub data, a missing or unreadable file: then the check runs and reports it)."""
    if cfg.data.source == "hub":
        return None
    folder = task_dir(cfg.data.root, cfg.task.name, cfg.task.dir)
    try:
        files = [_stamp(split_file(folder, split, cfg.task.format)) for split in SPLITS]
        code = code_digest(*_CHECK_CODE)
    except OSError:
        return None
    data = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items() if k != "cache_dir"}
    seed = cfg.seed if cfg.data.get("cv_folds") else None  # the folds of train + dev follow the seed
    return fingerprint("data-check", files, OmegaConf.to_container(cfg.task, resolve=True), data, seed, code)


def _stamp(path: Path) -> list[Any]:
    """(absolute path, size, mtime_ns, sha256) of one data file."""
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns, file_digest(path)]


def _record_path(cfg: Any, key: str) -> Path:
    return Path(cfg.data.cache_dir).expanduser() / f"{cfg.task.name}-data-check-{key}.json"


def _passed(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("status") == "ok"
    except (OSError, ValueError, AttributeError):  # none yet, or not a record of ours: check again
        return False


def _write_record(path: Path, cfg: Any) -> None:
    """Write the record atomically (temp file, then rename); a cache dir that cannot be written only
    means the next run checks again."""
    record = {"status": "ok", "task": str(cfg.task.name), "root": str(Path(cfg.data.root).expanduser().resolve())}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(tmp, path)
    except OSError:
        pass
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
