"""The preflight's data check runs once per unchanged dataset: again when a file's content, the task
config or the data settings change, and every time while the data has an error (never recorded)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from blurb_lab.data import check_cache
from blurb_lab.errors import DataError
from blurb_lab.preflight import preflight
from tests.conftest import compose_config, make_biosses_like


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The real check, each call counted (by its data root)."""
    calls: list[str] = []
    real = check_cache.check_task_data

    def counting(cfg):
        calls.append(str(cfg.data.root))
        real(cfg)

    monkeypatch.setattr(check_cache, "check_task_data", counting)
    return calls


def _config(root: Path, cache: Path, *extra: str):
    return compose_config([f"data.root={root}", f"data.cache_dir={cache}", "task=biosses", "model=tiny_bert", *extra])


def _same_size_edit(path: Path) -> None:
    """Change one label's digit, keeping the file's size and mtime: only its bytes tell."""
    stat = path.stat()
    text = path.read_text()
    index = text.index('"label": ') + len('"label": ')
    digit = "1" if text[index] != "1" else "2"
    path.write_text(text[:index] + digit + text[index + 1 :])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def test_an_unchanged_dataset_is_checked_once_and_a_changed_file_again(tmp_path: Path, counted: list[str]):
    root = make_biosses_like(tmp_path / "blurb")
    cfg = _config(root, tmp_path / "cache")
    assert check_cache.check_task_data_once(cfg) is True
    assert check_cache.check_task_data_once(cfg) is False
    assert check_cache.check_task_data_once(_config(root, tmp_path / "cache")) is False
    assert len(counted) == 1
    assert len(list((tmp_path / "cache").glob("biosses-data-check-*.json"))) == 1

    _same_size_edit(root / "biosses" / "dev.jsonl")
    assert check_cache.check_task_data_once(cfg) is True
    assert check_cache.check_task_data_once(cfg) is False
    assert len(counted) == 2

    check_cache.check_task_data_once(_config(root, tmp_path / "cache", "task.label_range=[0,5]"))
    check_cache.check_task_data_once(_config(root, tmp_path / "cache", "data.limit_train_examples=8"))
    assert len(counted) == 4  # the task config and the data settings are part of the key


def test_a_data_error_is_raised_on_every_run_and_never_recorded(tmp_path: Path, counted: list[str]):
    root = make_biosses_like(tmp_path / "blurb")
    path = root / "biosses" / "train.jsonl"
    path.write_text(path.read_text().replace('"label": ', '"label": NaN, "was": ', 1))
    cfg = _config(root, tmp_path / "cache")
    for _ in range(2):
        with pytest.raises(DataError, match="NaN"):
            check_cache.check_task_data_once(cfg)
    assert len(counted) == 2
    assert not (tmp_path / "cache").exists()


def test_hub_data_is_checked_every_time(tmp_path: Path):
    cfg = _config(tmp_path, tmp_path / "cache", "data.source=hub")
    assert check_cache.check_key(cfg) is None


def test_preflight_reads_an_unchanged_dataset_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from blurb_lab.data import readers

    read: list[str] = []
    real = readers.read_jsonl
    monkeypatch.setattr(readers, "read_jsonl", lambda path: read.append(Path(path).name) or real(path))
    root = make_biosses_like(tmp_path / "blurb")
    args = ["task=biosses", "model=tiny_bert", f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}"]
    preflight(args)
    preflight(args)
    assert sorted(read) == ["dev.jsonl", "test.jsonl", "train.jsonl"]
