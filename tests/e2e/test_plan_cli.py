"""`blurb-lab plan` and `--plan` against the sweep they plan: as many jobs as the real sweep runs, the
tokens each of them trained on, and no sweep dir made by planning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_biosses_like, run_cli

SWEEP = ["model=tiny_bert", "trainer.max_epochs=2", "trainer.enable_progress_bar=false", "data.batch_size=8",
         "-m", "seed=1,2", "model.dropout=0.1,0.2"]  # fmt: skip


@pytest.mark.slow  # about 40 s: the sweep itself runs
def test_plan_lists_the_jobs_the_sweep_runs_and_their_tokens(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data", (16, 4, 4))
    args = [*SWEEP, f"data.root={data}"]
    planned = run_cli("plan", *args, "--gpu", "h200", "--out", "plan", cwd=tmp_path, timeout=300)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "| 4 | tiny_bert | biosses | 2 |" in planned.stdout and "GPU-hours" in planned.stdout
    assert not (tmp_path / "multirun_outputs").exists()  # planning runs nothing
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())

    ran = run_cli(*args, "hydra/launcher=basic", "hydra.sweep.dir=sweep", cwd=tmp_path, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    results = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep").glob("*/results.json"))]
    assert plan["totals"]["jobs"] == len(plan["jobs"]) == len(results) == 4
    assert {job["tokens_per_epoch"] for job in plan["jobs"]} == {r["n_train_tokens"] for r in results}
    assert plan["jobs"][0]["train_tokens"] == 2 * results[0]["n_train_tokens"]


def test_plan_flag_on_a_sweep_command_line_and_a_bad_option(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data", (16, 4, 4))
    proc = run_cli(*SWEEP, f"data.root={data}", "--plan", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "jobs: 4;" in proc.stdout and not (tmp_path / "multirun_outputs").exists()
    bad = run_cli("plan", *SWEEP, f"data.root={data}", "--mfu", "1.5", cwd=tmp_path, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == "blurb-lab: plan: --mfu: 1.5 is not allowed; must be in (0, 1]"
