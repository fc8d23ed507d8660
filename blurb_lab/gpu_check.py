"""`make gpu-check` / `python -m blurb_lab.gpu_check [--out DIR]`: what the CPU tests cannot show,
run once on a machine with a CUDA GPU (under 8 minutes on an H100-class card).

1. MiniLM on BIOSSES with trainer=gpu, seeds 1 and 2, then seed 1 again: scores finite, and the
   same seed gives the same dev curve within 1e-3.
2. blurb_lab against the transformers Trainer on the NCBI slice, both in bf16: wall-time ratio.
3. MFU against a bf16 matmul rate measured on the same GPU: the NCBI run above, and a tight
   training loop of MiniLM and of a random BERT-base-shaped encoder at a batch that fills the GPU.
4. Four MiniLM seeds as four parallel jobs on one GPU against four sequential jobs: throughput.
5. trainer=ddp on 2 GPUs when there are 2 or more: DDP evaluation must equal one process's.

Writes gpu_check.json in the output dir and prints a short table. Without CUDA it exits at once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from blurb_lab.bench.__main__ import make_data, minilm_dir, model_flops_per_token, timed
from blurb_lab.results import write_json

CURVE_TOLERANCE = 1e-3


def cli(args: list[str], env: dict[str, str]) -> float:
    return timed([sys.executable, "-m", "blurb_lab", "trainer.enable_progress_bar=false", *args], env)[0]


def results(sweep: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]


def determinism(out: Path, data: Path, env: dict[str, str]) -> dict[str, Any]:
    common = ["task=biosses", "model=minilm", "trainer=gpu", f"data.root={data}"]
    cli([*common, f"hydra.sweep.dir={out / 'seeds'}", "-m", "seed=1,2"], env)
    cli([*common, f"hydra.sweep.dir={out / 'again'}", "-m", "seed=1"], env)
    first, again = results(out / "seeds"), results(out / "again")
    gap = max(abs(a - b) for a, b in zip(first[0]["dev_curve"], again[0]["dev_curve"], strict=True))
    finite = all(r["test_score"] is not None and math.isfinite(r["test_score"]) for r in first + again)
    return {"test_scores": [r["test_score"] for r in first], "max_dev_curve_gap": gap,
            "ok": finite and gap <= CURVE_TOLERANCE}  # fmt: skip


def bench_ratio(out: Path, data: Path, env: dict[str, str]) -> dict[str, Any]:
    ours = cli(["task=ncbi_disease", "model=minilm", "trainer=gpu", f"data.root={data}", "trainer.max_epochs=1",
                "data.batch_size=32", "optim.lr=5e-5", f"hydra.run.dir={out / 'ncbi'}"], env)  # fmt: skip
    theirs, _ = timed([sys.executable, "-m", "blurb_lab.bench.baseline", "ncbi_disease", str(data), minilm_dir(), "1",
                       "32", "5e-5", "128", "1", str(out / "baseline.json"), "gpu-bf16"], env)  # fmt: skip
    run = json.loads((out / "ncbi" / "results.json").read_text())
    return {"blurb_lab_s": ours, "trainer_s": theirs, "ratio": ours / theirs, "run": run}


def matmul_bf16_flops(n: int = 8192, repeats: int = 10) -> float:
    import torch

    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    torch.mm(a, b)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - started)


def loop_mfu(config: Any, batch: int, seq: int, peak: float, steps: int = 20) -> float:
    """MFU of a bf16 forward+backward+AdamW loop on random tokens (6 x non-embedding params / token)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_config(config).cuda().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    ids = torch.randint(1000, config.vocab_size, (batch, seq), device="cuda")
    for step in range(steps + 3):
        if step == 3:
            torch.cuda.synchronize()
            started = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids).last_hidden_state.float().pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    per_token = 6 * layers * (4 * h * h + 2 * h * inter)
    return per_token * batch * seq * steps / (time.perf_counter() - started) / peak


def parallel_throughput(out: Path, data: Path, env: dict[str, str]) -> dict[str, Any]:
    common = ["task=biosses", "model=minilm", "trainer=gpu", f"data.root={data}"]
    sequential = cli([*common, f"hydra.sweep.dir={out / 'sequential'}", "-m", "seed=1,2,3,4"], env)
    parallel = cli([*common, "hydra/launcher=parallel", "hydra.launcher.n_jobs=4", "hydra.launcher.jobs_per_device=4",
                    f"hydra.sweep.dir={out / 'parallel'}", "-m", "seed=1,2,3,4"], env)  # fmt: skip
    return {"sequential_s": sequential, "parallel_s": parallel, "throughput_ratio": sequential / parallel}


def ddp(out: Path, data: Path, env: dict[str, str], n_gpus: int) -> dict[str, Any]:
    if n_gpus < 2:
        return {"skipped": f"{n_gpus} GPU visible; trainer=ddp needs 2"}
    common = [
        "task=ncbi_disease",
        "model=minilm",
        f"data.root={data}",
        "trainer.max_epochs=1",
        "trainer.precision=32-true",
    ]
    cli([*common, "trainer=gpu", f"hydra.run.dir={out / 'one'}"], env)
    cli([*common, "trainer=ddp", "trainer.devices=2", f"hydra.run.dir={out / 'two'}"], env)
    one, two = (json.loads((out / d / "results.json").read_text()) for d in ("one", "two"))
    return {"single_dev": one["dev_score"], "ddp_dev": two["dev_score"], "equal": one["dev_score"] == two["dev_score"]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m blurb_lab.gpu_check", description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=Path("multirun_outputs/gpu_check") / time.strftime("%Y-%m-%d_%H-%M-%S")
    )
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU visible (torch.cuda.is_available() is False); nothing to check", file=sys.stderr)
        sys.exit(1)
    from transformers import BertConfig

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = make_data(out / "data", 2000, 200)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore", "TRANSFORMERS_VERBOSITY": "error"}
    started = time.time()
    n_gpus = torch.cuda.device_count()
    peak = matmul_bf16_flops()
    bench = bench_ratio(out / "bench", data, env)
    run = bench.pop("run")
    minilm = BertConfig.from_pretrained(minilm_dir())
    report = {
        "device": torch.cuda.get_device_name(0),
        "n_gpus": n_gpus,
        "torch": torch.__version__,
        "matmul_bf16_tflops": peak / 1e12,
        "determinism": determinism(out / "determinism", data, env),
        "bench": bench,
        "mfu": {
            "ncbi_run": model_flops_per_token(minilm_dir()) * run["n_train_tokens"] / run["fit_time_s"] / peak,
            "minilm_loop": loop_mfu(minilm, batch=256, seq=128, peak=peak),
            "bert_base_loop": loop_mfu(BertConfig(), batch=128, seq=128, peak=peak),
        },
        "parallel": parallel_throughput(out / "parallel", data, env),
        "ddp": ddp(out / "ddp", data, env, n_gpus),
    }
    report["wall_s"] = time.time() - started
    write_json(out / "gpu_check.json", report)
    d, b, m, p = report["determinism"], report["bench"], report["mfu"], report["parallel"]
    rows = [
        ("device", f"{report['device']} x {n_gpus}"),
        ("same seed, same dev curve (max gap)", f"{d['max_dev_curve_gap']:.2e} ({'ok' if d['ok'] else 'FAIL'})"),
        ("blurb_lab / Trainer wall time, NCBI bf16", f"{b['ratio']:.3f}"),
        ("bf16 matmul rate", f"{report['matmul_bf16_tflops']:.0f} TFLOP/s"),
        ("MFU: NCBI run / MiniLM loop / BERT-base loop", " / ".join(f"{v:.3f}" for v in m.values())),
        ("4 seeds parallel vs sequential throughput", f"{p['throughput_ratio']:.2f}x"),
        ("DDP evaluation equals one process", json.dumps(report["ddp"])),
        ("wall time", f"{report['wall_s']:.0f} s"),
    ]
    print("| check | result |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows))
    print(f"results: {out / 'gpu_check.json'}")
    sys.exit(0 if d["ok"] else 1)


if __name__ == "__main__":
    main()
