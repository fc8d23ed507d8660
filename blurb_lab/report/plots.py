"""Figures for a sweep: per-seed test scores per task (with the trivial and zero-shot reference scores),
expected validation performance per task, and per-epoch dev curves per configuration.

A mean ± std table hides how seeds spread and which runs broke; these plots show every seed. Figures are built
on ``matplotlib.figure.Figure`` with an explicit Agg canvas, so no display, no pyplot global state and no
figure left open; PNG metadata that names the matplotlib version is dropped so equal inputs give equal bytes.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
import textwrap
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

# Drop the "Software: matplotlib version ..." chunk so the bytes do not depend on the installed version.
PNG_METADATA: dict[str, str | None] = {"Software": None}
DPI = 100
LABEL_WIDTH = 24  # characters per line of a wrapped configuration label
FAILED_COLOR = "#d62728"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
GOLDEN = (math.sqrt(5) - 1) / 2
TRIVIAL_COLOR = "0.25"
ZERO_SHOT_COLORS = ["#1b7837", "#762a83", "#b35806", "#2166ac"]


def _finite(value: Any) -> float | None:
    """The value as a float when it is a finite number, else None (null, NaN and inf are all "no score")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _jitter(seed: int, width: float = 0.3) -> float:
    """Horizontal offset in [-width/2, width/2) from the seed number: golden-ratio spacing, no randomness."""
    return ((int(seed) * GOLDEN) % 1.0 - 0.5) * width


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


def _new_figure(width: float, height: float) -> Figure:
    """A figure on an explicit Agg canvas: works headless and is freed with the object (nothing to close)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    fig.clear()
    return path


def _group(results: list[dict[str, Any]], field: str) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by a field, groups and members in a fixed order whatever the input order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(str(result[field]), []).append(result)
    return {k: sorted(groups[k], key=lambda r: (int(r["seed"]), str(r.get("_dir", "")))) for k in sorted(groups)}


def _mean_test(members: list[dict[str, Any]]) -> float | None:
    """Mean of the finite test scores, as in the summary table (aggregate.summarise), so both rank alike."""
    scores = [s for s in (_finite(r.get("test_score")) for r in members) if s is not None]
    return statistics.fmean(scores) if scores else None


def _seed_count_text(configs: dict[str, list[dict[str, Any]]]) -> str:
    from blurb_lab.report.aggregate import run_key

    counts = sorted({len({run_key(r) for r in members}) for members in configs.values()})
    if len(counts) == 1:
        return f"{counts[0]} seed{'s' if counts[0] != 1 else ''}"
    return f"{counts[0]}–{counts[-1]} seeds per configuration"


def _metric_name(members: list[dict[str, Any]]) -> str:
    return " / ".join(sorted({str(r.get("metric", "score")) for r in members})) or "score"


def _plot_task(task: str, members: list[dict[str, Any]], path: Path) -> Path:
    """One strip-over-box plot of per-seed test scores, one column per configuration, best mean first."""
    configs = _group(members, "config_key")
    order = _config_order(configs)
    fig = _new_figure(max(5.0, 1.7 * len(order) + 1.8), 5.2)
    ax = fig.add_subplot()
    missing: list[str] = []
    tick_labels = []
    any_failed = False
    for x, key in enumerate(order):
        runs = configs[key]
        color = PALETTE[x % len(PALETTE)]
        shown = [(r, _finite(r.get("test_score"))) for r in runs]
        missing += [f"{runs[0]['config_label']} seed {r['seed']}" for r, s in shown if s is None]
        shown = [(r, s) for r, s in shown if s is not None]
        if shown:
            box = ax.boxplot(
                [s for _, s in shown],
                positions=[x],
                widths=0.5,
                showfliers=False,
                patch_artist=True,
                manage_ticks=False,
                zorder=1,
            )
            for patch in box["boxes"]:
                patch.set(facecolor=color, alpha=0.15, edgecolor="0.6")
            for part in ("whiskers", "caps", "medians"):
                for line in box[part]:
                    line.set(color="0.6" if part != "medians" else color, linewidth=1)
        for i, (r, score) in enumerate(shown):
            xpos = x + _jitter(i + 1)  # by position, so runs that share a master seed (a seed grid) spread too
            if r.get("status") == "ok":
                ax.scatter([xpos], [score], s=36, color=color, edgecolors="white", linewidths=0.5, zorder=3)
            else:
                any_failed = True
                ax.scatter([xpos], [score], s=64, facecolors="none", edgecolors=FAILED_COLOR, linewidths=1.6, zorder=4)
        mean = _mean_test(runs)
        stats = f"n={len(shown)}/{len(runs)}" + (f", mean {mean:.3f}" if mean is not None else "")
        tick_labels.append(f"{wrap_label(str(runs[0]['config_label']))}\n({stats})")
    ax.set_xticks(range(len(order)), tick_labels, fontsize=8)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylabel(f"test {_metric_name(members)}")
    ax.set_title(
        f"{task}: per-seed test scores, {_seed_count_text(configs)}\nconfigurations by mean test score, best first"
    )
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    handles = [Line2D([], [], linestyle="", marker="o", color="0.35", label="run (status ok)")]
    handles += _reference_lines(ax, members)
    if any_failed:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="",
                marker="o",
                markerfacecolor="none",
                markeredgecolor=FAILED_COLOR,
                markeredgewidth=1.6,
                markersize=8,
                label="failed / diverged run",
            )
        )
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.8)
    if missing:
        listed = "; ".join(missing[:4]) + ("; …" if len(missing) > 4 else "")
        note = f"{len(missing)} run{'s' if len(missing) != 1 else ''} without a test score not shown: {listed}"
        ax.set_xlabel("\n".join(_wrap_plain(note, int(fig.get_figwidth() * 14))), fontsize=8, color="0.3")
    if not any(_finite(r.get("test_score")) is not None for r in members):
        ax.text(0.5, 0.5, "no test scores", transform=ax.transAxes, ha="center", va="center", color="0.4")
    return _save(fig, path)


def _first_score(members: list[dict[str, Any]], key: str) -> float | None:
    return next((s for s in (_finite(r.get(key)) for r in members) if s is not None), None)


def _reference_lines(ax: Any, members: list[dict[str, Any]]) -> list[Line2D]:
    """Horizontal lines at the test scores a run must beat: the trivial predictor's and, per model, the
    untrained encoder's zero-shot score (sentence-pair similarity). Returns their legend handles."""
    handles = []
    trivial = _first_score(members, "trivial_test_score")
    if trivial is not None:
        handles.append(ax.axhline(trivial, color=TRIVIAL_COLOR, linestyle="--", linewidth=1.3, zorder=2,
                                  label=f"trivial predictor (test {trivial:.3f})"))  # fmt: skip
    models = _group([r for r in members if _finite(r.get("zero_shot_test_score")) is not None], "model")
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
        for task, members in _group(results, "task").items()
    ]


def _config_order(configs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Configurations by mean test score, best first (as in the summary and the score plot)."""
    return sorted(
        configs,
        key=lambda k: (_mean_test(configs[k]) is None, -(_mean_test(configs[k]) or 0.0), configs[k][0]["config_label"]),
    )


def _plot_evp(task: str, members: list[dict[str, Any]], path: Path) -> Path | None:
    """Left: expected best dev score among n runs, the unbiased estimator as a line and Dodge's with-replacement
    estimator dashed with its ±1 sd band. Right: the expected test score of the run picked by best dev.
    None when no run of the task has a dev score."""
    from blurb_lab.report.aggregate import run_sort_key
    from blurb_lab.report.stats import expected_validation_performance

    configs = _group(members, "config_key")
    curves = {}
    for key in _config_order(configs):
        runs = sorted(configs[key], key=run_sort_key)
        evp = expected_validation_performance(
            [(r.get("dev_score"), r.get("test_score"), run_sort_key(r)) for r in runs]
        )
        if evp is not None:
            curves[key] = evp
    if not curves:
        return None
    fig = _new_figure(11.0, 5.0)
    dev_ax, test_ax = fig.subplots(1, 2)
    handles = []
    for i, (key, evp) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        marker = "osD^v"[i // len(PALETTE) % 5]
        n = evp["n"]
        low = [m - sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
        high = [m + sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
        dev_ax.fill_between(n, low, high, color=color, alpha=0.12, linewidth=0)
        dev_ax.plot(n, evp["dodge"], color=color, linestyle="--", linewidth=1.2)
        label = f"{wrap_label(str(configs[key][0]['config_label']), 40)} (N={evp['n_runs']})"
        (line,) = dev_ax.plot(n, evp["unbiased"], color=color, marker=marker, markersize=4, linewidth=2, label=label)
        handles.append(line)
        if evp["test_at_best_dev"]:
            test_ax.plot(n, evp["test_at_best_dev"], color=color, marker=marker, markersize=4, linewidth=2)
    for ax in (dev_ax, test_ax):
        ax.set_xlabel("n runs (seeds)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(color="0.9", linewidth=0.8)
    metric = _metric_name(members)
    dev_ax.set_ylabel(f"expected best dev {metric}")
    dev_ax.set_title("E[max dev] among n runs", fontsize=10)
    test_ax.set_ylabel(f"expected test {metric}")
    test_ax.set_title("E[test] of the run with the best dev among n", fontsize=10)
    style = [
        Line2D([], [], color="0.3", linewidth=2, label="unbiased (order statistics)"),
        Line2D([], [], color="0.3", linewidth=1.2, linestyle="--", label="Dodge et al. 2019, ±1 sd band"),
    ]
    dev_ax.legend(handles=style, loc="lower right", fontsize=8, framealpha=0.8)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(f"{task}: expected validation performance, {_seed_count_text(configs)}")
    return _save(fig, path)


def plot_trials_evp(evp: dict[str, Any], study_name: str, path: Path) -> Path:
    """The Optuna sweeper's curve: expected best trial value among n trials of the study."""
    fig = _new_figure(6.0, 4.5)
    ax = fig.subplots()
    n = evp["n"]
    low = [m - sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
    high = [m + sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
    ax.fill_between(n, low, high, color=PALETTE[0], alpha=0.12, linewidth=0)
    ax.plot(n, evp["dodge"], color=PALETTE[0], linestyle="--", linewidth=1.2, label="Dodge et al. 2019, ±1 sd")
    ax.plot(n, evp["unbiased"], color=PALETTE[0], marker="o", markersize=4, linewidth=2, label="unbiased")
    ax.set_xlabel("n trials")
    ax.set_ylabel("expected best trial value")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(color="0.9", linewidth=0.8)
    ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{study_name}: expected best of n trials")
    return _save(fig, path)


def plot_evp(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Per task, evp_<task>.png: what a budget of n seeds buys, one curve per configuration."""
    paths = [_plot_evp(task, members, Path(out_dir) / f"evp_{slugify(task)}.png")
             for task, members in _group(results, "task").items()]  # fmt: skip
    return [p for p in paths if p is not None]


def _plot_curves(runs: list[dict[str, Any]], path: Path) -> Path:
    """Dev metric per epoch, one line per seed, best epoch starred: shows when (and whether) training helped."""
    fig = _new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    without: list[str] = []
    gaps: list[str] = []
    drew_best = False
    for i, r in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
        ok = r.get("status") == "ok"
        curve = [_finite(v) for v in (r.get("dev_curve") or [])]
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
    metric = _metric_name(runs)
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
    return _save(fig, path)


def plot_dev_curves(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Per configuration, curves_<slug>.png: per-seed dev curves, to judge epochs and early stopping."""
    out_dir = Path(out_dir)
    configs = _group(results, "config_key")
    return [_plot_curves(runs, out_dir / f"curves_{config_slug(runs[0])}.png") for runs in configs.values()]


def write_plots(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """All figures for a set of results (score strips and EVP per task, then dev curves per configuration)."""
    return plot_seed_scores(results, out_dir) + plot_evp(results, out_dir) + plot_dev_curves(results, out_dir)
