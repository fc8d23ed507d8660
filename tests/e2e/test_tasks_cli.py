"""All BLURB tasks: real data loads with the README's sizes, token windows, CoNLL files, the
evaluator, and a short real-CLI run for one task of every type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_task_fixtures, run_cli
from tests.unit.test_tasks import task_cfg

TYPES = ["ncbi_disease", "ebm_pico", "gad", "bioasq", "hoc", "biosses"]


@pytest.fixture(scope="module")
def typed_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("types")
    data = make_task_fixtures(work / "data")
    proc = run_cli("model=tiny_bert", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                   f"data.root={data}", "task.max_len=32", "-m", f"task={','.join(TYPES)}", cwd=work)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = [p.parent for p in (work / "multirun_outputs").glob("*/*/multirun.yaml")]
    return work, data, sweep


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_one_task_of_every_type_runs_and_the_evaluator_agrees(typed_sweep):
    work, data, sweep = typed_sweep
    results = {
        json.loads(p.read_text())["task"]: (p.parent, json.loads(p.read_text())) for p in sweep.glob("*/results.json")
    }
    assert sorted(results) == sorted(TYPES)
    for task, (job, result) in results.items():
        assert result["metric"] == task_cfg(task).task.metric
        proc = run_cli_module("blurb_lab.evaluate", f"task={task}", f"predictions={job / 'predictions_test.jsonl'}",
                              f"data.root={data}", f"out={job / 'eval.json'}", cwd=work)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        score = json.loads((job / "eval.json").read_text())["score"]
        assert score == pytest.approx(result["test_score"], abs=1e-6), task
    first = json.loads((results["ncbi_disease"][0] / "predictions_test.jsonl").read_text().splitlines()[0])
    assert set(first) == {"id", "prediction"} and all(t in ("B", "I", "O") for t in first["prediction"])
    assert results["gad"][1]["added_special_tokens"] == ["@GENE$", "@DISEASE$"]


def run_cli_module(module: str, *args: str, cwd: Path):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=300)  # fmt: skip


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda rows: rows[:-1], "5 predictions but the gold test split has 6"),
        (lambda rows: [{**rows[0], "prediction": "maybe"}, *rows[1:]], "unknown label 'maybe'"),
        (lambda rows: [{**rows[0], "id": "other"}, *rows[1:]], "does not match gold id"),
    ],
)
def test_evaluator_rejects_bad_predictions_with_one_line(typed_sweep, mutate, needle):
    work, data, sweep = typed_sweep
    job = next(p.parent for p in sweep.glob("*/results.json") if json.loads(p.read_text())["task"] == "bioasq")
    rows = [json.loads(x) for x in (job / "predictions_test.jsonl").read_text().splitlines()]
    bad = work / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in mutate(rows)), encoding="utf-8")
    proc = run_cli_module("blurb_lab.evaluate", "task=bioasq", f"predictions={bad}", f"data.root={data}", cwd=work)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and needle in proc.stderr and str(bad) in proc.stderr


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_sweep_over_all_six_task_types_reports_the_blurb_score(typed_sweep, tmp_path: Path):
    work, _, sweep = typed_sweep
    proc = run_cli("report", str(sweep), "--out", str(tmp_path), cwd=work)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    (score,) = summary["blurb_scores"]
    tests = {r["task"]: r["test"]["mean"] for r in summary["configurations"]}
    groups = [tests["ncbi_disease"], tests["ebm_pico"], tests["gad"], tests["biosses"], tests["hoc"], tests["bioasq"]]
    assert score["blurb_score"] == pytest.approx(sum(groups) / 6) and not score["partial"]
    assert "BLURB score" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "summary.csv").read_text().startswith("config,model,task,strategy,metric,n,n_failed")
    # the sweep's own summary (written by the multirun callback) has it too
    assert json.loads((sweep / "summary.json").read_text())["blurb_scores"][0]["blurb_score"] == score["blurb_score"]
