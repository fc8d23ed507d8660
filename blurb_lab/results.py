"""Job artefacts written atomically (temp file + rename): a killed job never leaves half a file."""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"
# A job that ran to its end: `ok`, `failed` (no better than a trivial predictor), `diverged`, or
# `pruned` (stopped by the Optuna pruner). `crashed`: it raised; resume runs it again.
FINISHED_STATUSES = ("ok", "failed", "diverged", "pruned")
CRASHED = "crashed"
RESUME_CHECKPOINT = "resume.ckpt"  # a running job's last completed epoch (blurb_lab/checkpoint.py)
PACKAGES = ("blurb_lab", "torch", "transformers", "pytorch-lightning", "torchmetrics", "hydra-core")


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(scrub_secrets(data), indent=2, sort_keys=False, default=str) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(row, default=str) + "\n" for row in rows))


def write_results(output_dir: Path, results: dict[str, Any]) -> None:
    """Every results.json (finished, crashed, or rank 0 of a spawned job) says what code made it."""
    write_json(output_dir / RESULTS_FILE, {**results, "provenance": provenance()})
    if results.get("status") != CRASHED:  # a crashed job keeps what it needs to resume
        (output_dir / RESUME_CHECKPOINT).unlink(missing_ok=True)


SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET", re.IGNORECASE)


def scrub_secrets(value: Any) -> Any:
    """Replace the value of any environment variable whose name says KEY, TOKEN or SECRET (the W&B
    API key among them) wherever it shows up, so it never lands in saved configs or results."""
    secrets = [v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 4]
    if not secrets:
        return value

    def scrub(node: Any) -> Any:
        if isinstance(node, str):
            for secret in secrets:
                node = node.replace(secret, "***")
            return node
        if isinstance(node, dict):
            return {k: scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node

    return scrub(value)


def versions() -> dict[str, str]:
    """The versions of the packages that matter most (the `versions` key, as in older results)."""
    return {"python": platform.python_version(), **{name: _version(name) for name in PACKAGES}}


def provenance() -> dict[str, Any]:
    """What made a result, so it can be traced to its code: blurb_lab's version; run from a git
    checkout, its commit and whether the tree differed from it (`dirty`: modified, staged or
    untracked files; null outside git); installed from a wheel, no commit; and the version of every
    distribution the run imported (requirements.lock's, torch's and any other)."""
    from blurb_lab.locations import source_checkout

    checkout = source_checkout()
    commit, dirty = git_state(checkout) if checkout is not None else (None, None)
    return {
        "blurb_lab": _version("blurb_lab"),
        "source": "checkout" if checkout is not None else "installed",
        "commit": commit,
        "dirty": dirty,
        "packages": imported_distributions(),
    }


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """(HEAD commit, tree differs from it) of the git work tree holding folder; (None, None) when
    git is missing, fails, or folder is in no repository."""

    def git(*args: str) -> str | None:
        try:  # --no-optional-locks: a status must not write the index while git runs elsewhere
            proc = subprocess.run(["git", "--no-optional-locks", "-C", str(folder), *args],
                                  capture_output=True, text=True, timeout=30)  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout if proc.returncode == 0 else None

    head = git("rev-parse", "--verify", "HEAD")
    status = git("status", "--porcelain") if head else None
    if head is None or status is None:
        return None, None
    return head.strip(), bool(status.strip())


def imported_distributions() -> dict[str, str]:
    """{distribution: version} of every installed distribution whose modules this process imported
    (names normalised as in requirements.lock), blurb_lab itself left out."""
    owners = module_owners()
    top_level = {name.partition(".")[0] for name in list(sys.modules)}
    names = {_normalise(dist) for module in top_level for dist in owners.get(module, ())}
    names.discard("blurb-lab")
    return {name: _version(name) for name in sorted(names)}


_OWNERS_LOCK = threading.Lock()


def module_owners() -> Mapping[str, list[str]]:
    """{top-level module: distributions}: a scan of every installed distribution's file list, done
    once per process (prefetch_provenance starts it while the job trains)."""
    with _OWNERS_LOCK:
        return _scan_owners()


@functools.cache
def _scan_owners() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def prefetch_provenance() -> None:
    """Scan the installed distributions in a background thread, so that writing results.json at the
    job's end does not wait for it."""
    threading.Thread(target=module_owners, name="blurb_lab-provenance", daemon=True).start()


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def outcome(result: dict[str, Any]) -> str:
    """A results.json's status; records written before `crashed` existed said `failed` plus an error."""
    status = str(result.get("status"))
    return CRASHED if status == "failed" and result.get("error") else status
