"""End-to-end runs of the real CLI as a subprocess, in a temporary working directory."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.conftest import make_biosses_like, needs_shared_blurb, run_cli

TINY = ["model=tiny_bert", "trainer.max_epochs=2", "trainer.enable_progress_bar=false", "data.batch_size=8"]


def job_results(sweep_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/results.json"))}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("work")
    data = make_biosses_like(work / "data")
    proc = run_cli("task=biosses", *TINY, f"data.root={data}", "-m", "seed=1,2", cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweeps = list((work / "multirun_outputs").glob("*/*/multirun.yaml"))
    assert len(sweeps) == 1, sweeps
    return work, sweeps[0].parent


def test_sweep_writes_one_job_dir_per_seed_with_results(sweep):
    _, sweep_dir = sweep
    results = job_results(sweep_dir)
    assert sorted(results) == ["0", "1"]
    assert sorted(r["seed"] for r in results.values()) == [1, 2]
    for job, r in results.items():
        assert r["status"] in ("ok", "failed") and r["metric"] == "pearson"
        assert r["task"] == "biosses" and r["model"] == "tiny_bert" and r["strategy"] == "standard"
        assert math.isfinite(r["test_score"]) and -1 <= r["test_score"] <= 1
        assert r["hparams"]["optim"]["lr"] > 0 and r["epochs"] == 2 and len(r["dev_curve"]) == 2
        assert {"torch", "transformers", "pytorch-lightning"} <= set(r["versions"])
        provenance = r["provenance"]  # run from this checkout: its commit (null outside git)
        assert provenance["source"] == "checkout" and provenance["blurb_lab"] == r["versions"]["blurb_lab"]
        assert provenance["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", provenance["commit"])
        assert isinstance(provenance["dirty"], bool) or provenance["commit"] is None
        assert provenance["packages"]["torch"] == r["versions"]["torch"]
        assert provenance["packages"]["transformers"] == r["versions"]["transformers"]
        predictions = (sweep_dir / job / "predictions_test.jsonl").read_text().splitlines()
        assert len(predictions) == 8 and set(json.loads(predictions[0])) == {"id", "prediction"}
        assert (sweep_dir / job / "csv" / "metrics.csv").is_file()
    assert results["0"]["config_key"] == results["1"]["config_key"]
    # the sweep folder is <date>/<time with microseconds>
    assert len(sweep_dir.name.split("-")) == 4 and len(sweep_dir.name.split("-")[-1]) == 6


def test_sweep_summary_has_mean_and_std_over_seeds(sweep):
    _, sweep_dir = sweep
    rows = json.loads((sweep_dir / "summary.json").read_text())["configurations"]
    assert len(rows) == 1 and rows[0]["n"] == 2
    scores = [r["test_score"] for r in job_results(sweep_dir).values()]
    assert rows[0]["test"]["mean"] == pytest.approx(sum(scores) / 2)
    assert rows[0]["test"]["std"] == pytest.approx(abs(scores[0] - scores[1]) / math.sqrt(2))
    assert "| tiny_bert/biosses/standard" in (sweep_dir / "summary.md").read_text()


def test_same_seed_gives_identical_metrics_in_a_new_process(sweep):
    work, sweep_dir = sweep
    data = work / "data"
    proc = run_cli("task=biosses", *TINY, f"data.root={data}", "seed=1", cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (single,) = (work / "multirun_outputs" / "runs").glob("*/*/results.json")
    again = json.loads(single.read_text())
    first = next(r for r in job_results(sweep_dir).values() if r["seed"] == 1)
    assert again["dev_score"] == first["dev_score"] and again["test_score"] == first["test_score"]
    assert again["dev_curve"] == first["dev_curve"]


def test_bad_config_exits_2_with_one_line_and_writes_nothing(tmp_path: Path):
    proc = run_cli("model=nope", "-m", "seed=1,2", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "model=nope" in proc.stderr
    assert not (tmp_path / "multirun_outputs").exists()


def test_missing_task_files_name_the_path(tmp_path: Path):
    proc = run_cli("model=tiny_bert", f"data.root={tmp_path / 'nowhere'}", cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{tmp_path / 'nowhere' / 'biosses'}" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_inspect_shows_layerwise_decay_on_minilm(tmp_path: Path, data_root: Path):
    proc = run_cli("model=minilm", "strategy=layerwise_decay", "strategy.layer_decay=0.5", "inspect=true",
                   f"data.root={data_root}", "optim.lr=1e-4", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (tmp_path / "multirun_outputs" / "runs").glob("*/*/param_groups.json")
    plan = json.loads(path.read_text())
    lr = {row["layer"]: row["lr"] for row in plan["rows"]}
    assert lr["block_06"] == pytest.approx(1e-4 * 0.5) and lr["embeddings"] == pytest.approx(1e-4 * 0.5**7)
    # MiniLM pools by mean (its checkpoint pooler was never trained): the pooler is not trained.
    assert lr["head"] == pytest.approx(1e-4) and "pooler" not in lr
    assert "block_06/decay" in proc.stdout  # the table is printed too
    assert not list(tmp_path.glob("multirun_outputs/runs/*/*/results.json"))  # nothing trained


@pytest.mark.slow
@needs_shared_blurb("biosses")
def test_minilm_two_seeds_on_real_biosses(tmp_path: Path):
    proc = run_cli("task=biosses", "model=minilm", "strategy=standard", "trainer.max_epochs=3",
                   "trainer.enable_progress_bar=false", "-m", "seed=1,2", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep_dir,) = [p.parent for p in (tmp_path / "multirun_outputs").glob("*/*/summary.json")]
    results = job_results(sweep_dir)
    assert len(results) == 2 and all(math.isfinite(r["test_score"]) for r in results.values())
    assert json.loads((sweep_dir / "summary.json").read_text())["configurations"][0]["test"]["std"] is not None


@pytest.mark.slow
@needs_shared_blurb("biosses")
def test_four_strategies_two_seeds_on_minilm(tmp_path: Path):
    proc = run_cli("task=biosses", "model=minilm", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
                   "-m", "strategy=standard,freeze_lower,layerwise_decay,reinit_top", "seed=1,2",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep_dir,) = [p.parent for p in (tmp_path / "multirun_outputs").glob("*/*/summary.json")]
    results = list(job_results(sweep_dir).values())
    assert len(results) == 8
    assert sorted({r["strategy"] for r in results}) == [
        "freeze_lower",
        "layerwise_decay",
        "reinit_top",
        "standard",
    ]
    assert all(math.isfinite(r["test_score"]) for r in results)
    frozen = [r for r in results if r["strategy"] == "freeze_lower"]
    assert all(r["n_frozen_params"] > 0 for r in frozen)
