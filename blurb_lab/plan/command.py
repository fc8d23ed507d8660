"""`blurb-lab plan <overrides> [-m]`, or `--plan` added to a sweep's command line: what the sweep
would cost, printed without training. The jobs are the ones the sweep would launch
(blurb_lab/sweep_jobs.py), each composed and value-checked as preflight does; their training tokens
are counted on the real data; FLOPs, GPU-hours, memory and disk follow (docs/sweeps-and-search.md,
"Plan a sweep before launching it")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from blurb_lab.errors import BlurbLabError, DataError, fail
from blurb_lab.plan.cards import CARDS, DEFAULT_CARD, DEFAULT_MFU, read_gpu_check, throughput
from blurb_lab.plan.estimate import JobEstimate, estimate_job
from blurb_lab.plan.report import plan_json, table
from blurb_lab.plan.tokens import TokenCounts, count_key, count_tokens

PLAN_FLAG = "--plan"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="blurb-lab plan",
        description="What a sweep would cost (jobs, tokens, FLOPs, GPU-hours, memory, disk), without training.",
    )
    parser.add_argument("overrides", nargs="*", help="the sweep's overrides, as for python -m blurb_lab")
    parser.add_argument("-m", "--multirun", action="store_true", help="accepted; a plan always lists the sweep's jobs")
    parser.add_argument("--gpu", choices=sorted(CARDS), help=f"card class (gpu_check.json's, else {DEFAULT_CARD})")
    parser.add_argument("--mfu", type=float, help=f"model-FLOPs utilisation (measured, else {DEFAULT_MFU})")
    parser.add_argument("--tflops", type=float, help="achieved training TFLOP/s per GPU, instead of peak x MFU")
    parser.add_argument("--gpu-check", type=Path, help="a gpu_check.json (default: the newest under multirun_outputs)")
    parser.add_argument("--out", type=Path, help="also write DIR/plan.json")
    words = [a for a in argv if a != PLAN_FLAG]
    args = parser.parse_intermixed_args(words[1:] if words[:1] == ["plan"] else words)
    if args.mfu is not None and not 0 < args.mfu <= 1:
        fail(f"plan: --mfu: {args.mfu} is not allowed; must be in (0, 1]")
    if args.tflops is not None and not args.tflops > 0:
        fail(f"plan: --tflops: {args.tflops} is not allowed; must be > 0")
    return args


def job_configs(overrides: list[str]) -> tuple[list[list[str]], list[DictConfig]]:
    """(each job's overrides, its composed and validated config), for the jobs the sweep launches."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from blurb_lab.config.compose import CONFIG_DIR
    from blurb_lab.preflight import checked_config, compose_one, job_config, parse_command
    from blurb_lab.sweep_jobs import sweep_jobs

    task, hydra_lines, first = parse_command(overrides)
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            head = compose_one(hydra_lines + first, with_hydra=True)
            try:
                jobs = sweep_jobs(head, [o.input_line for o in task])
            except Exception as exc:  # a sweeper, or a sweep, whose jobs cannot be listed
                fail(f"plan: cannot list the sweep's jobs: {' '.join(str(exc).split())}")
            composed: dict[tuple[str, ...], DictConfig] = {}
            return jobs, [checked_config(job_config(lines, composed)) for lines in jobs]
    finally:
        GlobalHydra.instance().clear()


def counted_tokens(configs: list[DictConfig]) -> list[TokenCounts | None]:
    """Each job's training tokens, counted once per distinct training set (a bar when there are several)."""
    from tqdm import tqdm

    keys = [count_key(cfg) for cfg in configs]
    counts: dict[str, TokenCounts | None] = {}
    distinct = len(set(keys))
    quiet = distinct < 2 or not sys.stderr.isatty()  # a bar's redraws are control codes in a log
    with tqdm(total=distinct, desc="plan: counting tokens", disable=quiet, file=sys.stderr) as bar:
        for cfg, key in zip(configs, keys, strict=True):
            if key not in counts:
                try:
                    counts[key] = count_tokens(cfg)
                except DataError as exc:  # a task whose data is not here: planned without it
                    counts[key] = None
                    print(f"plan: {exc}; its jobs are left out of the totals", file=sys.stderr)
                bar.update()
    return [counts[key] for key in keys]


def plan(argv: list[str]) -> tuple[list[JobEstimate], Any, argparse.Namespace]:
    args = parse(argv)
    report, report_path = read_gpu_check(args.gpu_check, Path.cwd())
    rate = throughput(args.gpu, args.mfu, args.tflops, report, report_path)
    jobs, configs = job_configs(args.overrides)
    try:
        counts = counted_tokens(configs)
        estimates = [estimate_job(c, j, n, rate) for c, j, n in zip(configs, jobs, counts, strict=True) if n]
        left_out = len(jobs) - len(estimates)
        if left_out:
            print(f"plan: {left_out} of {len(jobs)} jobs left out (no data, above)", file=sys.stderr)
    except BlurbLabError as exc:
        fail(str(exc))
    return estimates, rate, args


def main(argv: list[str]) -> None:
    """Print the plan's table; with --out, write plan.json too."""
    from blurb_lab.results import write_json

    estimates, rate, args = plan(argv)
    print(table(estimates, rate))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "plan.json", plan_json(estimates, rate, args.overrides))
        print(f"plan: {args.out / 'plan.json'}")
