"""Every rank of an externally launched job adds the same run and sweep dirs (blurb_lab/run_dir.py)."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest

from blurb_lab import run_dir
from tests.conftest import compose_config

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_ID", "SLURM_STEP_ID",
               "TORCHELASTIC_RUN_ID", "TORCHELASTIC_USE_AGENT_STORE", "MASTER_ADDR", "MASTER_PORT")  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_a_lone_process_adds_nothing(env: pytest.MonkeyPatch) -> None:
    assert run_dir.shared_dir_overrides(["seed=1"]) == []
    env.setenv("SLURM_PROCID", "0")
    env.setenv("SLURM_NTASKS", "1")  # an sbatch script's single task
    assert run_dir.shared_dir_overrides(["seed=1"]) == []


def test_srun_ranks_derive_the_same_dirs_from_the_job_and_step(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLURM_NTASKS", "2")
    env.setenv("SLURM_JOB_ID", "77")
    env.setenv("SLURM_STEP_ID", "3")
    by_rank = {}
    for rank in (0, 1):
        env.setenv("SLURM_PROCID", str(rank))
        by_rank[rank] = (run_dir.shared_dir_overrides(["seed=1"]), run_dir.shared_dir_overrides(["-m", "seed=1,2"]))
    run, sweep = "hydra.run.dir='multirun_outputs/runs/slurm-77.3'", "hydra.sweep.dir='multirun_outputs/slurm-77.3'"
    assert by_rank[0] == ([run], [sweep])
    rank_1_only = ["~hydra.callbacks.summary", "hydra.output_subdir=null"]  # rank 0 writes the job's files
    assert by_rank[1] == ([run, *rank_1_only], [sweep, *rank_1_only])


def test_a_dir_the_command_line_sets_is_left_alone(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLURM_PROCID", "0")
    env.setenv("SLURM_NTASKS", "2")
    env.setenv("SLURM_JOB_ID", "5")
    assert run_dir.shared_dir_overrides(["hydra.run.dir=mine"]) == []
    assert run_dir.shared_dir_overrides(["hydra.run.dir=mine", "-m"]) == [
        "hydra.sweep.dir='multirun_outputs/slurm-5.0'"
    ]


def test_without_a_shared_store_or_a_launch_name_the_job_stops_in_one_line(env, capsys) -> None:
    env.setenv("RANK", "1")
    env.setenv("WORLD_SIZE", "2")
    env.setenv("TORCHELASTIC_RUN_ID", "none")
    env.setenv("TORCHELASTIC_USE_AGENT_STORE", "False")
    with pytest.raises(SystemExit) as exit_info:
        run_dir.shared_dir_overrides(["seed=1"])
    assert exit_info.value.code == 2
    assert "set hydra.run.dir" in capsys.readouterr().err


def test_torchrun_ranks_take_rank_0s_dirs_from_the_agent_store(env: pytest.MonkeyPatch) -> None:
    from torch.distributed import TCPStore

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = TCPStore("127.0.0.1", port, is_master=True, timeout=timedelta(seconds=30))  # torchrun's agent
    env.setenv("MASTER_ADDR", "127.0.0.1")
    env.setenv("MASTER_PORT", str(port))
    env.setenv("TORCHELASTIC_RUN_ID", "job-1")
    got = {}
    key = "hydra.run.dir"
    waiting = threading.Thread(target=lambda: got.update(rank1=run_dir._through_store(1, key, "b")))
    waiting.start()  # rank 1 asks before rank 0 has published: it waits
    got["rank0"] = run_dir._through_store(0, key, "a")
    waiting.join(timeout=30)
    assert got == {"rank0": "a", "rank1": "a"}
    assert run_dir._through_store(0, key, "c") == "a"  # a restarted attempt (--max-restarts) keeps the job's dir
    del agent


def test_a_quoted_dir_reaches_hydra_unchanged() -> None:
    path = "out/it's here/run 1:2"
    cfg = compose_config([f"hydra.run.dir={run_dir._quoted(path)}"], hydra=True)
    assert cfg.hydra.run.dir == path
