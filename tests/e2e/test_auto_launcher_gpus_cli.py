"""hydra/launcher=auto on a GPU node, shown on CPU: the GPU count is patched in every process of
the sweep (tests/e2e/fake_gpus/sitecustomize.py), real jobs run through the real launcher, worker
processes and slot locks, and each records the devices it was given and when it held them; only
the job's CUDA part is replaced (it trains on the CPU)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from blurb_lab.parallel import auto_layout, describe_layout
from tests.conftest import make_biosses_like, run_cli
from tests.unit.test_auto_launcher import CPU

FINISHED = ("ok", "failed")  # trained to the end (a 1-epoch tiny_bert may not beat the trivial baseline)
FAKE_GPUS = Path(__file__).parent / "fake_gpus"
TINY = ["model=tiny_bert", "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "data.limit_train_examples=16"]


def run_on_fake_gpus(tmp_path: Path, n_gpus: int, peers: int, *args: str):
    """The CLI with `n_gpus` GPUs patched in; each job holds its slot until `peers` jobs have started."""
    records = tmp_path / "records"
    records.mkdir()
    env = {"BLURB_TEST_FAKE_GPUS": str(n_gpus), "BLURB_TEST_RECORDS": str(records), "BLURB_TEST_PEERS": str(peers),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKE_GPUS), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    data = make_biosses_like(tmp_path / "data")
    result = run_cli(*TINY, f"data.root={data}", "hydra.sweep.dir=sweep", *args, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = [json.loads(p.read_text()) for p in sorted(records.glob("job-*.json"))]
    return result.stdout + result.stderr, jobs


def most_at_once(jobs: list[dict]) -> dict[int, int]:
    """Per device, the most jobs that held it at the same moment (an end before a start at a tie)."""
    events = sorted((t, kind, d) for j in jobs for d in j["devices"] for t, kind in ((j["start"], 1), (j["end"], -1)))
    now: dict[int, int] = {}
    peak: dict[int, int] = {}
    for _, kind, device in events:
        now[device] = now.get(device, 0) + kind
        peak[device] = max(peak.get(device, 0), now[device])
    return peak


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_auto_launcher_spreads_gpu_jobs_over_the_gpus(tmp_path: Path):
    """3 seeds, 2 GPUs, 2 jobs per GPU: all 3 at once, every GPU used, never more than 2 jobs on one
    (slots 0 and 2 share GPU 0). Today's code ran them one after another on the first GPU."""
    cores = os.cpu_count() or 1
    log, jobs = run_on_fake_gpus(tmp_path, 2, 3, "trainer=gpu", "hydra.launcher.jobs_per_device=2", "-m",
                                 "seed=1,2,3")  # fmt: skip
    assert len(jobs) == 3 and all(j["status"] in FINISHED for j in jobs), jobs
    assert all(isinstance(j["devices"], list) and len(j["devices"]) == 1 for j in jobs), jobs
    assert most_at_once(jobs) == {0: 2, 1: 1}  # both GPUs used, none by more than jobs_per_device at once
    assert {j["slot"] for j in jobs} == {0, 1, 2}
    layout = auto_layout(3, cores, OmegaConf.merge(CPU, {"accelerator": "gpu"}), 2, 0, 2)
    assert layout.at_once == 3
    assert describe_layout(3, cores, layout) in log
    assert {j["threads"] for j in jobs} == {layout.threads}  # the cores split between the jobs at once
    assert len({j["pid"] for j in jobs}) == 3  # one worker process per job at once


@pytest.mark.slow
def test_auto_launcher_runs_ddp_jobs_side_by_side(tmp_path: Path):
    """2 DDP jobs of 2 GPUs on a 4-GPU node: both at once, on GPUs [0, 1] and [2, 3]; each spawns
    its 2 ranks (gloo here) from inside a worker process of the sweep."""
    cores = os.cpu_count() or 1
    log, jobs = run_on_fake_gpus(tmp_path, 4, 2, "trainer=ddp", "trainer.devices=2", "-m", "seed=1,2")
    ddp = OmegaConf.merge(CPU, {"accelerator": "gpu", "devices": 2, "strategy": "ddp"})
    assert describe_layout(2, cores, auto_layout(2, cores, ddp, 4)) in log  # 2 at a time
    assert len(jobs) == 2 and all(j["status"] in FINISHED for j in jobs), jobs
    assert sorted(j["devices"] for j in jobs) == [[0, 1], [2, 3]]
    assert most_at_once(jobs) == {0: 1, 1: 1, 2: 1, 3: 1}
    assert jobs[0]["start"] < jobs[1]["end"] and jobs[1]["start"] < jobs[0]["end"]  # side by side
