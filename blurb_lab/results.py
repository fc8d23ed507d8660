"""Job artefacts written atomically (temp file + rename): a killed job never leaves half a file."""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"
# A job that ran to its end: `ok`, `failed` (no better than a trivial predictor), `diverged`, or
# `pruned` (stopped by the Optuna pruner). `crashed`: it raised; resume runs it again.
FINISHED_STATUSES = ("ok", "failed", "diverged", "pruned")
CRASHED = "crashed"
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
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def outcome(result: dict[str, Any]) -> str:
    """A results.json's status; records written before `crashed` existed said `failed` plus an error."""
    status = str(result.get("status"))
    return CRASHED if status == "failed" and result.get("error") else status
