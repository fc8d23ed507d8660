"""hydra/launcher=auto, the default multirun launcher: its rule for jobs at once and threads per job,
that a plain `-m` follows that rule on this machine, and that its seeds score as sequential ones do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blurb_lab.parallel import auto_layout, describe_layout
from tests.conftest import make_biosses_like, run_cli
from tests.unit.test_auto_launcher import CPU

TINY = ["model=tiny_bert", "trainer.max_epochs=2", "trainer.enable_progress_bar=false"]


def scores(sweep: Path) -> dict[int, float]:
    return {r["seed"]: r["test_score"] for r in (json.loads(p.read_text()) for p in sweep.glob("*/results.json"))}


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_auto_multirun_scores_equal_sequential_ones_with_one_thread(tmp_path: Path):
    """The default multirun (2 seeds on this machine's cores) against Hydra's basic launcher at the
    threads per job the rule gives (1 on a 2-core machine): the same per-seed scores."""
    import os

    data = make_biosses_like(tmp_path / "data")
    seeds = ["-m", "seed=1,2"]
    # min_flops=0: the rule's side-by-side path, which jobs this short would not take by default
    side_by_side = "hydra.launcher.min_flops=0"
    auto = run_cli(*TINY, f"data.root={data}", side_by_side, "hydra.sweep.dir=auto", *seeds, cwd=tmp_path)
    assert auto.returncode == 0, auto.stderr[-3000:]
    layout = auto_layout(2, os.cpu_count() or 1, CPU)
    assert describe_layout(2, os.cpu_count() or 1, layout) in auto.stdout + auto.stderr
    threads = layout.threads
    sequential = run_cli(*TINY, f"data.root={data}", "hydra/launcher=basic", f"trainer.num_threads={threads}",
                         "hydra.sweep.dir=seq", *seeds, cwd=tmp_path)  # fmt: skip
    assert sequential.returncode == 0, sequential.stderr[-3000:]
    assert sorted(scores(tmp_path / "auto")) == [1, 2]
    assert scores(tmp_path / "auto") == scores(tmp_path / "seq")
    if layout.at_once > 1:
        logs = "".join(p.read_text() for p in (tmp_path / "auto").glob("*/blurb_lab.log"))
        assert f"parallel slot 0 of {layout.at_once}: {threads} threads" in logs


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for a reaper counts: it computes nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_parallel_job_ends_when_its_sweep_is_killed():
    """A worker that called exit_with_parent ends soon after its parent is SIGKILLed, not at the end
    of its job (a killed sweep leaves no orphan computing in its job dir)."""
    import subprocess
    import sys
    import time

    worker = (
        "import time; from blurb_lab.parallel import exit_with_parent; exit_with_parent(0.1); "
        "print('ready', flush=True); time.sleep(120)"
    )
    sweep = (
        "import subprocess, sys, time; "
        f"w = subprocess.Popen([sys.executable, '-c', {worker!r}], stdout=subprocess.PIPE, text=True); "
        "print(w.pid, flush=True); w.stdout.readline(); print('go', flush=True); time.sleep(120)"
    )
    parent = subprocess.Popen([sys.executable, "-c", sweep], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "go"
        assert not _gone(pid)
        parent.kill()
        parent.wait()
        deadline = time.time() + 20
        while not _gone(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert _gone(pid)
    finally:
        parent.kill()
