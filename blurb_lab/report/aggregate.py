"""Aggregate results.json files into per-configuration statistics over seeds."""

from __future__ import annotations

import json
import logging
import math
import statistics
from pathlib import Path
from typing import Any

from blurb_lab.results import RESULTS_FILE, atomic_write_text, write_json

log = logging.getLogger(__name__)


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
                out.append(result)
    return out


def _stats(values: list[float]) -> dict[str, float | None]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": None, "std": None, "min": None, "median": None, "max": None}
    return {
        "mean": statistics.fmean(finite),
        "std": statistics.stdev(finite) if len(finite) > 1 else None,
        "min": min(finite),
        "median": statistics.median(finite),
        "max": max(finite),
    }


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per configuration (everything but the seed), best mean test score first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(result["config_key"], []).append(result)
    rows = []
    for key, members in groups.items():
        members.sort(key=lambda r: r["seed"])
        first = members[0]
        rows.append(
            {
                "config": first["config_label"],
                "config_key": key,
                "model": first["model"],
                "task": first["task"],
                "strategy": first["strategy"],
                "metric": first["metric"],
                "n": len(members),
                "n_failed": sum(r["status"] != "ok" for r in members),
                "seeds": [r["seed"] for r in members],
                "dev": _stats([r.get("dev_score") for r in members]),
                "test": _stats([r.get("test_score") for r in members]),
                "test_scores": [r.get("test_score") for r in members],
            }
        )
    rows.sort(key=lambda r: -math.inf if r["test"]["mean"] is None else r["test"]["mean"], reverse=True)
    return rows


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| configuration | metric | n | failed | dev mean | dev std | test mean | test std | test min | test max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, t = r["dev"], r["test"]
        lines.append(
            f"| {r['config']} | {r['metric']} | {r['n']} | {r['n_failed']} | {_fmt(d['mean'])} | "
            f"{_fmt(d['std'])} | {_fmt(t['mean'])} | {_fmt(t['std'])} | {_fmt(t['min'])} | {_fmt(t['max'])} |"
        )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ["config", "model", "task", "strategy", "metric", "n", "n_failed"] + [
    f"{split}_{stat}" for split in ("dev", "test") for stat in ("mean", "std", "min", "median", "max")
]


def to_csv(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        stats = [r[split][stat] for split in ("dev", "test") for stat in ("mean", "std", "min", "median", "max")]
        writer.writerow([r["config"], r["model"], r["task"], r["strategy"], r["metric"], r["n"], r["n_failed"], *stats])
    return buffer.getvalue()


def write_summary(out_dir: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """summary.md / .csv / .json (with the BLURB score when several task types are covered)."""
    from blurb_lab.report import blurb_score

    scores = blurb_score.blurb_scores(rows)
    write_json(out_dir / "summary.json", {"configurations": rows, "blurb_scores": scores})
    atomic_write_text(out_dir / "summary.csv", to_csv(rows))
    markdown = "# Per-seed summary\n\n" + to_markdown(rows)
    if scores:
        markdown += "\n" + blurb_score.to_markdown(scores)
    atomic_write_text(out_dir / "summary.md", markdown)
    return scores
