"""Nothing lost, nothing cryptic: fuzzed readers, resume after SIGKILL, secrets, W&B outages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_biosses_like, run_cli


def _sweep(tmp_path: Path, data: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "blurb_lab", "task=biosses", "model=tiny_bert", "trainer.max_epochs=8",
            "optim.lr=1e-3", "data.batch_size=8", "trainer.enable_progress_bar=false", f"data.root={data}",
            f"hydra.sweep.dir={name}",
            *extra, "-m", "seed=1,2,3,4"]  # fmt: skip


@pytest.mark.slow  # minutes of real sweeps: make test-slow (make test stays under 10 minutes)
def test_sigkill_then_resume_gives_the_uninterrupted_summary(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data", (48, 12, 12))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    full = subprocess.run(_sweep(tmp_path, data, "full"), cwd=tmp_path, env=env, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr[-2000:]
    statuses = {json.loads(p.read_text())["seed"]: json.loads(p.read_text())["status"]
                for p in (tmp_path / "full").glob("*/results.json")}  # fmt: skip
    # On the machines seen so far, every seed of this learnable fixture beats a constant predictor.
    assert "ok" in statuses.values(), statuses

    proc = subprocess.Popen(_sweep(tmp_path, data, "killed"), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while len(list((tmp_path / "killed").glob("*/results.json"))) < 2 and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in (tmp_path / "killed").glob("*/results.json")}
    assert 2 <= len(finished) < 4 and not (tmp_path / "killed" / "summary.json").exists()
    done = {p: t for p, t in finished.items() if json.loads(p.read_text())["status"] == "ok"}

    resumed = subprocess.run(_sweep(tmp_path, data, "killed", "resume=true"), cwd=tmp_path, env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in done.items())  # finished jobs did not run again
    results = [json.loads(p.read_text()) for p in (tmp_path / "killed").glob("*/results.json")]
    assert {r["seed"]: r["status"] for r in results} == statuses  # all ok here, as in the uninterrupted sweep
    one = json.loads((tmp_path / "full" / "summary.json").read_text())["configurations"][0]
    two = json.loads((tmp_path / "killed" / "summary.json").read_text())["configurations"][0]
    assert (two["n"], two["dev"], two["test"], two["config"]) == (one["n"], one["dev"], one["test"], one["config"])


def test_secrets_never_reach_saved_files(tmp_path: Path, data_root: Path):
    secret = "s3cr3t-value-1234"
    proc = run_cli("model=tiny_bert", "trainer.max_epochs=1", "logger=[csv,wandb]", f"data.root={data_root}",
                   "task.hub.name=${oc.env:MY_SERVICE_TOKEN}", "hydra.run.dir=run", cwd=tmp_path,
                   env={"MY_SERVICE_TOKEN": secret, "WANDB_API_KEY": "k" * 40})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["hparams"]["task"]["hub"]["name"] == "***"
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and b"k" * 40 not in data, path


@pytest.mark.slow  # a real multi-job sweep: make test-slow (make test stays under 10 minutes)
def test_wandb_online_without_network_falls_back_to_offline(tmp_path: Path, data_root: Path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    env = {"WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB_API_KEY": "x" * 40}
    started = time.time()
    proc = run_cli("model=tiny_bert", "trainer.max_epochs=1", "logger=wandb", "logger.wandb_mode=online",
                   "logger.wandb_init_timeout=10", f"data.root={data_root}", "hydra.run.dir=run", cwd=tmp_path,
                   env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.time() - started < 240
    log = (tmp_path / "run" / "blurb_lab.log").read_text()
    assert log.count("W&B online unavailable") == 1
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert json.loads((tmp_path / "run" / "results.json").read_text())["test_score"] is not None
