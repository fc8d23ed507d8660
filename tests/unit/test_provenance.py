"""results.json's provenance: the commit and dirty flag of the checkout a run came from (none when
installed, or when git cannot tell), and the versions of the distributions the run imported."""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

import pytest

from blurb_lab import locations
from blurb_lab.results import git_state, provenance
from tests.conftest import REPO

needs_git_checkout = pytest.mark.skipif(
    shutil.which("git") is None or git_state(REPO)[0] is None, reason="not run from a git checkout"
)


@needs_git_checkout
def test_a_checkout_records_its_commit_and_whether_it_was_modified():
    record = provenance()
    assert record["source"] == "checkout" and record["blurb_lab"] == metadata.version("blurb_lab")
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"])
    assert isinstance(record["dirty"], bool)


def test_a_folder_outside_git_gives_no_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no repository above tmp_path counts
    assert git_state(tmp_path) == (None, None)
    monkeypatch.setattr(locations, "source_checkout", lambda: tmp_path)
    record = provenance()
    assert record["commit"] is None and record["dirty"] is None


def test_missing_git_gives_no_commit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", "")
    assert git_state(REPO) == (None, None)


def test_installed_from_a_wheel_records_the_version_and_no_commit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(locations, "source_checkout", lambda: None)
    record = provenance()
    assert record["source"] == "installed" and record["commit"] is None and record["dirty"] is None
    assert record["blurb_lab"] == metadata.version("blurb_lab")
