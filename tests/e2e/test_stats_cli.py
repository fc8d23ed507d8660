"""Stability statistics against reference computations: scipy called directly for tests and intervals,
exact fractions for the EVP estimators, hand-worked examples for Holm and the seed-grid decomposition;
then the summary files built from small results.json files, and one real sweep through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blurb_lab.report import stats
from tests.conftest import make_biosses_like, run_cli
from tests.wandb_records import run_summary

# --- intervals ---------------------------------------------------------------------------------------


# --- Holm ---------------------------------------------------------------------------------------------


# --- expected validation performance -------------------------------------------------------------------


# --- seed grid ---------------------------------------------------------------------------------------


# --- tests between two configurations ------------------------------------------------------------------


# --- summaries built from results.json files ------------------------------------------------------------


# --- the real CLI, end to end --------------------------------------------------------------------------


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_sweep_through_the_cli_writes_the_statistics_to_disk_and_to_offline_wandb(tmp_path: Path) -> None:
    data = make_biosses_like(tmp_path / "data")
    # hydra/launcher=basic: this is about the statistics; six jobs this small would spend most of their time
    # starting the default launcher's worker processes (tested in tests/test_auto_launcher.py).
    proc = run_cli("task=biosses", "model=tiny_bert", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                   "logger=wandb", f"data.root={data}", "hydra.sweep.dir=sweep", "hydra/launcher=basic",
                   "-m", "seed=1,2,3", "strategy=standard,reinit_top", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "sweep"
    summary = json.loads((sweep / "summary.json").read_text())
    by = {r["strategy"]: r for r in summary["configurations"]}
    assert sorted(by) == ["reinit_top", "standard"] and all(r["n"] == 3 for r in by.values())
    reinit = by["reinit_top"]
    tests = [s for s in reinit["test_scores"] if s is not None]
    assert reinit["test"]["mean_ci"] == stats.bootstrap_ci(tests, "mean")
    comparison = reinit["comparison"]
    assert comparison["reference"].startswith("tiny_bert/biosses/standard") and comparison["paired"] is True
    assert comparison["tests"]["mean"]["test"] == "paired t" and comparison["verdict"]
    assert reinit["evp"]["n"] == [1, 2, 3] and len(reinit["evp"]["dodge_sd"]) == 3
    assert reinit["e_max_dev_n5"] is None  # 3 runs
    assert "biosses" in summary["reference_scores"]
    assert (sweep / "evp_biosses.png").read_bytes()[:4] == b"\x89PNG"

    (aggregate_dir,) = (sweep / "wandb").glob("offline-run-*")
    aggregate = run_summary(aggregate_dir)
    assert aggregate["job_type"] == "aggregate"
    tables = {key.split("/")[0]: h[key] for h in aggregate["history"] for key in h if key.endswith("/path")}
    summary_table = json.loads((aggregate_dir / "files" / tables["summary"]).read_text())
    columns = summary_table["columns"]
    assert columns[:5] == ["config", "model", "task", "strategy", "metric"]
    logged = {row[columns.index("strategy")]: dict(zip(columns, row, strict=True)) for row in summary_table["data"]}
    assert logged["reinit_top"]["test_mean_ci_low"] == pytest.approx(reinit["test"]["mean_ci"]["low"])
    assert logged["reinit_top"]["verdict"] == comparison["verdict"]
    assert logged["reinit_top"]["mean_p_holm"] == pytest.approx(comparison["tests"]["mean"]["p_holm"])
    evp = json.loads((aggregate_dir / "files" / tables["evp"]).read_text())
    unbiased = [row[evp["columns"].index("e_max_dev_unbiased")] for row in evp["data"]
                if row[0] == reinit["config"]]  # fmt: skip
    assert unbiased == pytest.approx(reinit["evp"]["unbiased"])
    assert "reference_scores" in tables
    assert any(key.startswith("plots/evp_biosses") for h in aggregate["history"] for key in h)
    trivial = summary["reference_scores"]["biosses"]["trivial_dev"]
    assert aggregate["summary"].get("reference/biosses/trivial_dev") == pytest.approx(trivial)
