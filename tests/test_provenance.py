"""results.json's provenance: the commit and dirty flag of the checkout a run came from (none when
installed, or when git cannot tell), and the versions of the distributions the run imported."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from blurb_lab import locations
from blurb_lab.results import git_state, provenance
from tests.conftest import REPO
from tests.test_lock import locked

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


def test_the_distributions_a_process_imported_are_recorded_at_their_installed_versions():
    """In a fresh process that imports omegaconf (locked) and nothing of torch or psycopg2."""
    script = "import json, omegaconf; from blurb_lab.results import imported_distributions as d; print(json.dumps(d()))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recorded = json.loads(proc.stdout)
    assert recorded["omegaconf"] == metadata.version("omegaconf") == locked()["omegaconf"]
    assert recorded["pyyaml"] == locked()["pyyaml"]  # imported by omegaconf
    assert not {"torch", "psycopg2-binary", "blurb-lab"} & set(recorded)
