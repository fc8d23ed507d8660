"""What every report figure shares: an Agg canvas with no global state, deterministic PNG bytes, the
palette, wrapped and file-safe configuration labels, and results grouped and ordered the way the summary
table orders them.

Figures are built on ``matplotlib.figure.Figure`` with an explicit Agg canvas, so no display, no pyplot
global state and no figure left open; PNG metadata that names the matplotlib version is dropped so equal
inputs give equal bytes.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from blurb_lab.seeds import grid_seeds

# Drop the "Software: matplotlib version ..." chunk so the bytes do not depend on the installed version.
PNG_METADATA: dict[str, str | None] = {"Software": None}
DPI = 100
LABEL_WIDTH = 24  # characters per line of a wrapped configuration label
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def finite_score(value: Any) -> float | None:
    """The value as a float when it is a finite number, else None (null, NaN and inf are all "no score")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def wrap_label(label: str, width: int = LABEL_WIDTH) -> str:
    """Wrap a config label at spaces and '/' so long override lists stay readable as tick labels.

    A word longer than a line starts a new line and breaks after '_', '=', ',', ':' or a letter's '.'
    (never inside a number like 0.01); only a fragment still too long is cut at the width.
    """
    lines: list[str] = []
    current = ""

    def add(piece: str) -> None:
        nonlocal current
        if current and len(current.rstrip()) + len(piece.rstrip()) > width:
            lines.append(current.rstrip())
            current = ""
        current += piece

    for word in (w for w in re.split(r"(?<=[ /])", label) if w):
        if len(word.rstrip()) <= width:
            add(word)
            continue
        if current:
            lines.append(current.rstrip())
            current = ""
        for piece in (p for p in re.split(r"(?<=[_=,:]|(?<=[A-Za-z])\.)", word) if p):
            while len(piece.rstrip()) > width:
                add(piece[:width])
                piece = piece[width:]
            add(piece)
    if current.strip():
        lines.append(current.rstrip())
    return "\n".join(lines) or label


def slugify(text: str, max_len: int = 60) -> str:
    """A filesystem-safe short form: ASCII letters, digits, '.', '_', '-'; never hidden, never empty."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return slug[:max_len].rstrip("._-") or "x"


def config_slug(result: dict[str, Any]) -> str:
    """Readable slug of the config label plus 8 chars of the config key, so two configs never share a file."""
    key = str(result["config_key"])
    short = key[:8] if re.fullmatch(r"[0-9a-fA-F]{8,}", key) else hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"{slugify(str(result.get('config_label') or key))}_{short}"


def new_figure(width: float, height: float) -> Figure:
    """A figure on an explicit Agg canvas: works headless and is freed with the object (nothing to close)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    fig.clear()
    return path


def group_by(results: list[dict[str, Any]], field: str) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by a field, groups and members in a fixed order whatever the input order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(str(result[field]), []).append(result)
    return {k: sorted(groups[k], key=lambda r: (int(r["seed"]), str(r.get("_dir", "")))) for k in sorted(groups)}


def mean_test(members: list[dict[str, Any]]) -> float | None:
    """Mean of the finite test scores, as in the summary table (summary.summarise), so both rank alike."""
    scores = [s for s in (finite_score(r.get("test_score")) for r in members) if s is not None]
    return statistics.fmean(scores) if scores else None


def config_order(configs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Configurations by mean test score, best first (as in the summary and the score plot)."""
    return sorted(
        configs,
        key=lambda k: (mean_test(configs[k]) is None, -(mean_test(configs[k]) or 0.0), configs[k][0]["config_label"]),
    )


def seed_count_text(configs: dict[str, list[dict[str, Any]]]) -> str:
    counts = sorted({len({grid_seeds(r) for r in members}) for members in configs.values()})
    if len(counts) == 1:
        return f"{counts[0]} seed{'s' if counts[0] != 1 else ''}"
    return f"{counts[0]}–{counts[-1]} seeds per configuration"


def metric_name(members: list[dict[str, Any]]) -> str:
    return " / ".join(sorted({str(r.get("metric", "score")) for r in members})) or "score"
