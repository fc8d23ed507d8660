"""Seeds per hour on one machine, for `make bench`: the same MiniLM BIOSSES seeds run as one real CLI
multirun per layout, each with its own sweep dir and tokenisation cache:

- sequential: Hydra's basic launcher, every job with all the cores;
- parallel_2x1: the parallel launcher, 2 jobs at once x 1 thread;
- auto: hydra/launcher=auto, the layout its rule (blurb_lab.parallel.auto_layout) picks for this core
  count and this batch's work; not run again when that is one of the two above.

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

from blurb_lab.parallel import Layout, Work, auto_layout

CPU_TRAINER = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "num_nodes": 1, "num_threads": 0}


def auto_choice(n_jobs: int, cores: int, data: Path, epochs: int) -> Layout:
    """The layout hydra/launcher=auto picks for this bench's batch, with the launcher's own work
    estimate and default min_flops."""
    from blurb_lab.config.compose import compose_config
    from blurb_lab.plan.flops import batch_training_flops

    cfg = compose_config(["task=biosses", "model=minilm", f"data.root={data}", f"trainer.max_epochs={epochs}"], True)
    work = Work(batch_training_flops([(cfg, n_jobs)]), float(cfg.hydra.launcher.min_flops))
    return auto_layout(n_jobs, cores, CPU_TRAINER, work=work)


def layouts(auto: Layout, cores: int) -> dict[str, list[str]]:
    """Launcher overrides per layout. Where auto's choice is one of the other two (2 x 1 on a 2-core
    machine, or one after another for a short batch), that run stands for it: no layout is timed twice."""
    runs = {
        "sequential": ["hydra/launcher=basic", f"trainer.num_threads={cores}"],
        "parallel_2x1": ["hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "trainer.num_threads=1"],
    }
    if auto_stands_in(auto, cores) is None:
        runs["auto"] = ["hydra/launcher=auto"]
    return runs


def auto_stands_in(auto: Layout, cores: int) -> str | None:
    """The other layout that is auto's choice, if any."""
    if auto.at_once == 1 and auto.threads == cores:
        return "sequential"
    if (auto.at_once, auto.threads) == (2, 1):
        return "parallel_2x1"
    return None


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
    """Every layout on seeds 1..n_jobs; speedup is the default layout's (auto's) seeds/hour over
    sequential's: what a user gains, or loses, by not choosing a launcher."""
    cores = os.cpu_count() or 1
    auto = auto_choice(n_jobs, cores, data, epochs)
    runs = layouts(auto, cores)
    seeds = list(range(1, n_jobs + 1))
    chosen = {"at_once": auto.at_once, "threads": auto.threads, "reason": auto.reason}
    report: dict[str, Any] = {"jobs": n_jobs, "epochs": epochs, "cores": cores, "auto_layout": chosen}
    for name, launcher in runs.items():
        report[name] = run_layout(work, name, launcher, data, epochs, seeds, env)
        print(f"seeds per hour, {name}: {n_jobs} jobs in {report[name]['wall_s']:.1f}s, "
              f"{report[name]['seeds_per_hour']:.1f} seeds/h", flush=True)  # fmt: skip
    stand_in = auto_stands_in(auto, cores)
    if stand_in is not None:
        report["auto"] = f"same as {stand_in} ({auto.at_once} x {auto.threads} on {cores} cores): not run twice"
    default = report[stand_in or "auto"]["seeds_per_hour"]
    report["speedup"] = default / report["sequential"]["seeds_per_hour"]
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
    lines.append(f"seeds per hour, the default layout (auto) / sequential: {report['speedup']:.3f}")
    return lines
