"""Gathering a sweep's runs: every readable results.json under some folders, grouped by today's identity
rules, and the seed keys that order and pair a configuration's runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from blurb_lab.identity import configuration_key
from blurb_lab.results import RESULTS_FILE
from blurb_lab.seeds import grid_seeds

log = logging.getLogger(__name__)


def identity_key(result: dict[str, Any]) -> str:
    """The configuration a run belongs to, recomputed from its hparams with today's identity rules
    (so runs written before a rule changed still group with new ones), else its stored config_key."""
    hparams = result.get("hparams")
    return configuration_key(hparams) if isinstance(hparams, dict) else result["config_key"]


def find_results(dirs: list[Path]) -> list[dict[str, Any]]:
    """Every readable results.json under the given dirs (unreadable ones are skipped, with a warning)."""
    out = []
    for folder in dirs:
        for path in sorted(folder.rglob(RESULTS_FILE)):
            try:
                result = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                log.warning("skipping unreadable %s: %s", path, exc)
                continue
            if "config_key" in result:
                result["_dir"] = str(path.parent)
                result["config_key"] = identity_key(result)
                out.append(result)
    return out


def run_sort_key(result: dict[str, Any]) -> tuple[tuple[int, Any], ...]:
    """Runs in seed order (numbers numerically); any mix of seed types still sorts."""
    return tuple((0, v) if isinstance(v, int | float) else (1, str(v)) for v in grid_seeds(result))
