"""Seeds per hour on one machine, for `make bench`: the same MiniLM BIOSSES seeds run as one real CLI
multirun per layout, each with its own sweep dir and tokenisation cache:

- sequential: Hydra's basic launcher, every job with all the cores;
- parallel_2x1: the parallel launcher, 2 jobs at once x 1 thread;
- auto: hydra/launcher=auto, the layout its rule (blurb_lab.parallel.auto_layout) picks for this core
  count; not run again when that is 2 x 1.

A user running a stability study feels seeds per hour, not one job's time; this is the measurement
the auto launcher's rule rests on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from blurb_lab.parallel import Layout, auto_layout

CPU_TRAINER = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "num_nodes": 1, "num_threads": 0}


def layouts(n_jobs: int, cores: int) -> tuple[dict[str, list[str]], Layout]:
    """Launcher overrides per layout, and the layout auto picks here. The 2 x 1 run stands for auto
    when they coincide (a 2-core machine), so no layout is timed twice."""
    auto = auto_layout(n_jobs, cores, CPU_TRAINER)
    runs = {
        "sequential": ["hydra/launcher=basic", f"trainer.num_threads={cores}"],
        "parallel_2x1": ["hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "trainer.num_threads=1"],
    }
    if (auto.at_once, auto.threads) != (2, 1):
        runs["auto"] = ["hydra/launcher=auto"]
    return runs, auto


def run_layout(work: Path, name: str, launcher: list[str], data: Path, epochs: int, seeds: list[int],
               env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """One multirun: wall seconds, seeds per hour and each seed's test score."""
    sweep = work / f"seeds-{name}"
    cmd = [sys.executable, "-m", "blurb_lab", "task=biosses", "model=minilm", f"data.root={data}",
           f"trainer.max_epochs={epochs}", "trainer.enable_progress_bar=false", *launcher,
           f"data.cache_dir={work / f'seeds-{name}-cache'}", f"hydra.sweep.dir={sweep}",
           "-m", f"seed={','.join(map(str, seeds))}"]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench: command failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    results = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    scores = {int(r["seed"]): r["test_score"] for r in results}
    if sorted(scores) != sorted(seeds):
        raise SystemExit(f"bench: {name}: results for seeds {sorted(scores)}, expected {seeds}")
    return {"launcher": launcher, "wall_s": wall, "seeds_per_hour": len(seeds) * 3600 / wall,
            "jobs_fit_test_s": sum(r["fit_time_s"] + r["test_time_s"] for r in results),
            "test_scores": {str(s): scores[s] for s in sorted(scores)}}  # fmt: skip


def seeds_per_hour(work: Path, data: Path, n_jobs: int, epochs: int, env: dict[str, str]) -> dict[str, Any]:
    """Every layout on seeds 1..n_jobs; speedup is the best parallel layout's seeds/hour over sequential."""
    cores = os.cpu_count() or 1
    runs, auto = layouts(n_jobs, cores)
    seeds = list(range(1, n_jobs + 1))
    report: dict[str, Any] = {"jobs": n_jobs, "epochs": epochs, "cores": cores,
                              "auto_layout": {"at_once": auto.at_once, "threads": auto.threads}}  # fmt: skip
    for name, launcher in runs.items():
        report[name] = run_layout(work, name, launcher, data, epochs, seeds, env)
        print(f"seeds per hour, {name}: {n_jobs} jobs in {report[name]['wall_s']:.1f}s, "
              f"{report[name]['seeds_per_hour']:.1f} seeds/h", flush=True)  # fmt: skip
    if "auto" not in runs:
        report["auto"] = f"same as parallel_2x1 ({auto.at_once} x {auto.threads} on {cores} cores): not run twice"
    sequential = report["sequential"]["seeds_per_hour"]
    best = max(report[name]["seeds_per_hour"] for name in runs if name != "sequential")
    report["speedup"] = best / sequential
    return report


def table(report: dict[str, Any]) -> list[str]:
    """Lines for the bench's printed summary (docs/performance.md's seeds-per-hour table has the same columns)."""
    lines = [f"{'layout':<14} {'jobs x threads':>15} {'wall s':>8} {'seeds/h':>8}"]
    shapes = {"sequential": f"1 x {report['cores']}", "parallel_2x1": "2 x 1",
              "auto": f"{report['auto_layout']['at_once']} x {report['auto_layout']['threads']}"}  # fmt: skip
    for name, shape in shapes.items():
        row = report.get(name)
        if isinstance(row, dict):
            lines.append(f"{name:<14} {shape:>15} {row['wall_s']:>8.1f} {row['seeds_per_hour']:>8.1f}")
        elif row:
            lines.append(f"{name:<14} {shape:>15}   {row}")
    lines.append(f"seeds per hour, best parallel layout / sequential: {report['speedup']:.3f}")
    return lines
