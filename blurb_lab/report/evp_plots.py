"""Expected validation performance as figures: per task, what a budget of n seeds buys each configuration
(the expected best dev score and the test score of the run it picks), and the Optuna sweeper's expected best
trial value among n trials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from blurb_lab.report import figures
from blurb_lab.report.evp import expected_validation_performance
from blurb_lab.report.gather import run_sort_key


def _plot_evp(task: str, members: list[dict[str, Any]], path: Path) -> Path | None:
    """Left: expected best dev score among n runs, the unbiased estimator as a line and Dodge's with-replacement
    estimator dashed with its ±1 sd band. Right: the expected test score of the run picked by best dev.
    None when no run of the task has a dev score."""
    configs = figures.group_by(members, "config_key")
    curves = {}
    for key in figures.config_order(configs):
        runs = sorted(configs[key], key=run_sort_key)
        evp = expected_validation_performance(
            [(r.get("dev_score"), r.get("test_score"), run_sort_key(r)) for r in runs]
        )
        if evp is not None:
            curves[key] = evp
    if not curves:
        return None
    fig = figures.new_figure(11.0, 5.0)
    dev_ax, test_ax = fig.subplots(1, 2)
    handles = []
    for i, (key, evp) in enumerate(curves.items()):
        color = figures.PALETTE[i % len(figures.PALETTE)]
        marker = "osD^v"[i // len(figures.PALETTE) % 5]
        n = evp["n"]
        low = [m - sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
        high = [m + sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
        dev_ax.fill_between(n, low, high, color=color, alpha=0.12, linewidth=0)
        dev_ax.plot(n, evp["dodge"], color=color, linestyle="--", linewidth=1.2)
        label = f"{figures.wrap_label(str(configs[key][0]['config_label']), 40)} (N={evp['n_runs']})"
        (line,) = dev_ax.plot(n, evp["unbiased"], color=color, marker=marker, markersize=4, linewidth=2, label=label)
        handles.append(line)
        if evp["test_at_best_dev"]:
            test_ax.plot(n, evp["test_at_best_dev"], color=color, marker=marker, markersize=4, linewidth=2)
    for ax in (dev_ax, test_ax):
        ax.set_xlabel("n runs (seeds)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(color="0.9", linewidth=0.8)
    metric = figures.metric_name(members)
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
    fig.suptitle(f"{task}: expected validation performance, {figures.seed_count_text(configs)}")
    return figures.save_figure(fig, path)


def plot_trials_evp(evp: dict[str, Any], study_name: str, path: Path) -> Path:
    """The Optuna sweeper's curve: expected best trial value among n trials of the study."""
    fig = figures.new_figure(6.0, 4.5)
    ax = fig.subplots()
    n = evp["n"]
    low = [m - sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
    high = [m + sd for m, sd in zip(evp["dodge"], evp["dodge_sd"], strict=True)]
    ax.fill_between(n, low, high, color=figures.PALETTE[0], alpha=0.12, linewidth=0)
    ax.plot(n, evp["dodge"], color=figures.PALETTE[0], linestyle="--", linewidth=1.2, label="Dodge et al. 2019, ±1 sd")
    ax.plot(n, evp["unbiased"], color=figures.PALETTE[0], marker="o", markersize=4, linewidth=2, label="unbiased")
    ax.set_xlabel("n trials")
    ax.set_ylabel("expected best trial value")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(color="0.9", linewidth=0.8)
    ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{study_name}: expected best of n trials")
    return figures.save_figure(fig, path)


def plot_evp(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Per task, evp_<task>.png: what a budget of n seeds buys, one curve per configuration."""
    paths = [_plot_evp(task, members, Path(out_dir) / f"evp_{figures.slugify(task)}.png")
             for task, members in figures.group_by(results, "task").items()]  # fmt: skip
    return [p for p in paths if p is not None]
