"""Figures for a sweep: per-seed test scores per task (with the trivial and zero-shot reference scores) and
per-epoch dev curves per configuration; ``write_plots`` adds the EVP curves of ``evp_plots``.

A mean ± std table hides how seeds spread and which runs broke; these plots show every seed. What the
figures share (canvas, palette, labels, order) is in ``figures``.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from blurb_lab.report.evp_plots import plot_evp
from blurb_lab.report.figures import (
    PALETTE,
    config_order,
    config_slug,
    finite_score,
    group_by,
    mean_test,
    metric_name,
    new_figure,
    save_figure,
    seed_count_text,
    slugify,
    wrap_label,
)

FAILED_COLOR = "#d62728"
GOLDEN = (math.sqrt(5) - 1) / 2
TRIVIAL_COLOR = "0.25"
ZERO_SHOT_COLORS = ["#1b7837", "#762a83", "#b35806", "#2166ac"]


def _jitter(seed: int, width: float = 0.3) -> float:
    """Horizontal offset in [-width/2, width/2) from the seed number: golden-ratio spacing, no randomness."""
    return ((int(seed) * GOLDEN) % 1.0 - 0.5) * width


# --- per-seed test scores, one figure per task ------------------------------------------------------------


class _Column(NamedTuple):
    """What one configuration's column of a score plot leaves for the axes: its tick label, the runs it
    could not draw (no test score), and whether it drew a failed run."""

    tick_label: str
    missing: list[str]
    any_failed: bool


def _plot_task(task: str, members: list[dict[str, Any]], path: Path) -> Path:
    """One strip-over-box plot of per-seed test scores, one column per configuration, best mean first."""
    configs = group_by(members, "config_key")
    order = config_order(configs)
    fig = new_figure(max(5.0, 1.7 * len(order) + 1.8), 5.2)
    ax = fig.add_subplot()
    columns = [_draw_column(ax, x, configs[key]) for x, key in enumerate(order)]
    ax.set_xticks(range(len(order)), [column.tick_label for column in columns], fontsize=8)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylabel(f"test {metric_name(members)}")
    ax.set_title(
        f"{task}: per-seed test scores, {seed_count_text(configs)}\nconfigurations by mean test score, best first"
    )
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    handles = [Line2D([], [], linestyle="", marker="o", color="0.35", label="run (status ok)")]
    handles += _reference_lines(ax, members)
    if any(column.any_failed for column in columns):
        handles.append(_failed_run_handle())
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.8)
    _note_missing(fig, ax, [run for column in columns for run in column.missing])
    if not any(finite_score(r.get("test_score")) is not None for r in members):
        ax.text(0.5, 0.5, "no test scores", transform=ax.transAxes, ha="center", va="center", color="0.4")
    return save_figure(fig, path)


def _draw_column(ax: Axes, x: int, runs: list[dict[str, Any]]) -> _Column:
    """Column x: a box over the configuration's finite test scores, then one point per scored run (a failed
    run as a hollow red ring), jittered by position so runs that share a master seed (a seed grid) spread too."""
    color = PALETTE[x % len(PALETTE)]
    scored = [(r, finite_score(r.get("test_score"))) for r in runs]
    missing = [f"{runs[0]['config_label']} seed {r['seed']}" for r, s in scored if s is None]
    shown = [(r, s) for r, s in scored if s is not None]
    if shown:
        _draw_box(ax, [s for _, s in shown], x, color)
    for i, (r, score) in enumerate(shown):
        xpos = x + _jitter(i + 1)
        if r.get("status") == "ok":
            ax.scatter([xpos], [score], s=36, color=color, edgecolors="white", linewidths=0.5, zorder=3)
        else:
            ax.scatter([xpos], [score], s=64, facecolors="none", edgecolors=FAILED_COLOR, linewidths=1.6, zorder=4)
    mean = mean_test(runs)
    stats = f"n={len(shown)}/{len(runs)}" + (f", mean {mean:.3f}" if mean is not None else "")
    tick_label = f"{wrap_label(str(runs[0]['config_label']))}\n({stats})"
    return _Column(tick_label, missing, any(r.get("status") != "ok" for r, _ in shown))


def _draw_box(ax: Axes, scores: list[float], x: int, color: str) -> None:
    """A faint box (no fliers: every run is drawn as a point) behind column x's points."""
    box = ax.boxplot(scores, positions=[x], widths=0.5, showfliers=False, patch_artist=True, manage_ticks=False,
                     zorder=1)  # fmt: skip
    for patch in box["boxes"]:
        patch.set(facecolor=color, alpha=0.15, edgecolor="0.6")
    for part in ("whiskers", "caps", "medians"):
        for line in box[part]:
            line.set(color="0.6" if part != "medians" else color, linewidth=1)


def _failed_run_handle() -> Line2D:
    return Line2D([], [], linestyle="", marker="o", markerfacecolor="none", markeredgecolor=FAILED_COLOR,
                  markeredgewidth=1.6, markersize=8, label="failed / diverged run")  # fmt: skip


def _note_missing(fig: Figure, ax: Axes, missing: list[str]) -> None:
    """Name the runs without a test score (the first four) under the axes: they are not in the plot."""
    if not missing:
        return
    listed = "; ".join(missing[:4]) + ("; …" if len(missing) > 4 else "")
    note = f"{len(missing)} run{'s' if len(missing) != 1 else ''} without a test score not shown: {listed}"
    ax.set_xlabel("\n".join(_wrap_plain(note, int(fig.get_figwidth() * 14))), fontsize=8, color="0.3")


def _first_score(members: list[dict[str, Any]], key: str) -> float | None:
    return next((s for s in (finite_score(r.get(key)) for r in members) if s is not None), None)


def _reference_lines(ax: Any, members: list[dict[str, Any]]) -> list[Line2D]:
    """Horizontal lines at the test scores a run must beat: the trivial predictor's and, per model, the
    untrained encoder's zero-shot score (sentence-pair similarity). Returns their legend handles."""
    handles = []
    trivial = _first_score(members, "trivial_test_score")
    if trivial is not None:
        handles.append(ax.axhline(trivial, color=TRIVIAL_COLOR, linestyle="--", linewidth=1.3, zorder=2,
                                  label=f"trivial predictor (test {trivial:.3f})"))  # fmt: skip
    models = group_by([r for r in members if finite_score(r.get("zero_shot_test_score")) is not None], "model")
    for i, (model, runs) in enumerate(models.items()):
        score = _first_score(runs, "zero_shot_test_score")
        handles.append(ax.axhline(score, color=ZERO_SHOT_COLORS[i % len(ZERO_SHOT_COLORS)], linestyle=":",
                                  linewidth=1.8, zorder=2, label=f"zero-shot {model} (test {score:.3f})"))  # fmt: skip
    return handles


def _wrap_plain(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=max(width, 20)) or [text]


def plot_seed_scores(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Per task, scores_<task>.png: every seed's test score per configuration, so spread and failures show."""
    out_dir = Path(out_dir)
    return [
        _plot_task(task, members, out_dir / f"scores_{slugify(task)}.png")
        for task, members in group_by(results, "task").items()
    ]


# --- per-epoch dev curves, one figure per configuration -------------------------------------------------


def _plot_curves(runs: list[dict[str, Any]], path: Path) -> Path:
    """Dev metric per epoch, one line per seed, best epoch starred: shows when (and whether) training helped."""
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    without: list[str] = []
    gaps: list[str] = []
    drew_best = False
    for i, r in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
        ok = r.get("status") == "ok"
        curve = [finite_score(v) for v in (r.get("dev_curve") or [])]
        label = f"seed {r['seed']}" + ("" if ok else f" ({r.get('status', 'failed')})")
        if not any(v is not None for v in curve):
            without.append(label)
            continue
        epochs = list(range(1, len(curve) + 1))
        if None in curve:
            gaps.append(label)
        values = [math.nan if v is None else v for v in curve]  # NaN leaves a gap in the line
        marker = "osD^v"[i // len(PALETTE) % 5]  # colours repeat past the palette: vary the marker
        ax.plot(epochs, values, marker=marker, markersize=3.5, color=color, linestyle="-" if ok else "--", label=label)
        best = max((v, -e) for e, v in zip(epochs, curve, strict=True) if v is not None)  # first epoch of the max
        ax.plot([-best[1]], [best[0]], marker="*", markersize=13, color=color, markeredgecolor="black", zorder=5)
        drew_best = True
    metric = metric_name(runs)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"dev {metric}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(color="0.9", linewidth=0.8)
    ax.set_title(f"{wrap_label(str(runs[0]['config_label']), 60)}\ndev {metric} per epoch", fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    if drew_best:
        star = Line2D([], [], linestyle="", marker="*", markersize=11, color="0.5", markeredgecolor="black")
        star.set_label("best epoch")
        handles.append(star)
    notes = ([f"no dev curve: {', '.join(without)}"] if without else []) + (
        [f"non-finite dev values left as gaps: {', '.join(gaps)}"] if gaps else []
    )
    if notes:
        ax.text(
            0.5,
            0.02,
            "\n".join(notes),
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=8,
            color="0.4",
        )
    if handles:
        ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.8)
    return save_figure(fig, path)


def plot_dev_curves(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Per configuration, curves_<slug>.png: per-seed dev curves, to judge epochs and early stopping."""
    out_dir = Path(out_dir)
    configs = group_by(results, "config_key")
    return [_plot_curves(runs, out_dir / f"curves_{config_slug(runs[0])}.png") for runs in configs.values()]


def write_plots(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """All figures for a set of results (score strips and EVP per task, then dev curves per configuration)."""
    return plot_seed_scores(results, out_dir) + plot_evp(results, out_dir) + plot_dev_curves(results, out_dir)
