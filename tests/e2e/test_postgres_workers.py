"""Two sweep workers on one Optuna study in a real PostgreSQL server (started here, in a temp dir)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.conftest import make_biosses_like, run_cli


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away PostgreSQL server on a Unix socket; skipped with the reason when none can start."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl); .ci/run installs Debian's postgresql")
    pytest.importorskip("psycopg2", reason="psycopg2 (the PostgreSQL driver) is not installed")
    base = tmp_path_factory.mktemp("pg")
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        if not runuser:
            pytest.skip("running as root and no runuser to start PostgreSQL as another user")
        prefix = [runuser, "-u", "nobody", "--"]
        os.chmod(base, 0o777)
        for parent in base.parents:  # nobody must be able to reach the socket dir
            if str(parent) in ("/", "/tmp"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
    data, port = base / "data", _free_port()
    init = subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], capture_output=True,
                          text=True)  # fmt: skip
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}")
    options = f"-p {port} -k {base} -c listen_addresses=''"
    start = subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o", options, "start"],
                           capture_output=True, text=True)  # fmt: skip
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {(base / 'log').read_text()[-300:] if (base / 'log').exists() else ''}")
    try:
        import sqlalchemy

        admin = sqlalchemy.create_engine(f"postgresql+psycopg2://postgres@/postgres?host={base}&port={port}",
                                         isolation_level="AUTOCOMMIT")  # fmt: skip
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("CREATE DATABASE optuna"))
        admin.dispose()
        yield f"postgresql+psycopg2://postgres@/optuna?host={base}&port={port}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)


@pytest.mark.slow  # minutes of real sweeps: make test-slow (make test stays under 10 minutes)
def test_two_workers_share_one_postgres_study(tmp_path: Path, postgres_url: str):
    data = make_biosses_like(tmp_path / "data")
    args = ["task=biosses", "model=tiny_bert", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
            f"data.root={data}", "hparams_search=lr_decay", "hydra.sweeper.n_trials=4", "hydra.sweeper.seeds=[1]",
            f"hydra.sweeper.storage='{postgres_url}'", "hydra.sweeper.study_name=shared"]  # fmt: skip
    import sys

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "blurb_lab", *args, f"hydra.sweep.dir=worker{i}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 4 and all(t.state == TrialState.COMPLETE for t in finished)
    assert len({t.number for t in study.trials}) == len(study.trials) == 4  # none lost, none duplicated
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    jobs = list(tmp_path.glob("worker*/*/results.json"))
    assert len(jobs) == 4  # each trial's one seed ran exactly once, in one of the two workers

    # The report over both workers' dirs holds the whole study: 4 configurations (one per trial), 1 run each.
    merged = run_cli("report", "worker0", "worker1", "--out", "merged", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr[-3000:]
    rows = json.loads((tmp_path / "merged" / "summary.json").read_text())["configurations"]
    keys = sorted(json.loads(p.read_text())["config_key"] for p in jobs)
    assert sorted(row["config_key"] for row in rows) == keys and {row["n"] for row in rows} == {1}
    # One worker's dir alone: its own jobs, or, when the other worker took every trial, exit 2 saying so.
    for worker in ("worker0", "worker1"):
        proc = run_cli("report", worker, cwd=tmp_path)
        if list((tmp_path / worker).glob("*/results.json")):
            assert proc.returncode == 0, proc.stderr[-3000:]
        else:
            assert proc.returncode == 2 and f"no results.json under {worker}" in proc.stderr
