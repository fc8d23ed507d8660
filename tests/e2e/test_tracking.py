"""Per-seed variance made visible: summaries, plots, failed runs, W&B runs read back from disk."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from matplotlib.image import imread

from tests.conftest import make_biosses_like, run_cli
from tests.wandb_records import run_summary

# hydra/launcher=basic: these tests are about tracking, and jobs this small would spend most of their
# time starting the default launcher's worker processes (tested in tests/test_auto_launcher.py).
TINY = ["task=biosses", "model=tiny_bert", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
        "trainer.log_every_n_steps=1", "hydra/launcher=basic"]  # fmt: skip


@pytest.fixture(scope="module")
def wandb_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wandb")
    data = make_biosses_like(work / "data")
    proc = run_cli(*TINY, "logger=wandb", f"data.root={data}", "hydra.sweep.dir=sweep", "-m", "seed=1,2,3",
                   cwd=work)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "sweep"


def test_summary_equals_statistics_recomputed_from_results(wandb_sweep: Path):
    results = [json.loads(p.read_text()) for p in sorted(wandb_sweep.glob("*/results.json"))]
    assert len(results) == 3
    (row,) = json.loads((wandb_sweep / "summary.json").read_text())["configurations"]
    tests = [r["test_score"] for r in results]
    assert row["n"] == 3 and row["seeds"] == [1, 2, 3]
    assert row["test"]["mean"] == pytest.approx(statistics.fmean(tests))
    assert row["test"]["std"] == pytest.approx(statistics.stdev(tests))
    assert row["dev"]["max"] == pytest.approx(max(r["dev_score"] for r in results))
    csv_lines = (wandb_sweep / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 2 and f"{statistics.fmean(tests)}" in csv_lines[1]
    assert "tiny_bert/biosses/standard" in (wandb_sweep / "summary.md").read_text()


def test_plots_are_valid_images(wandb_sweep: Path):
    pngs = sorted(p.name for p in wandb_sweep.glob("*.png"))
    assert "scores_biosses.png" in pngs and any(p.startswith("curves_") for p in pngs)
    for name in pngs:
        image = imread(wandb_sweep / name)
        assert image.shape[0] > 100 and image.std() > 0.01


def test_wandb_offline_runs_hold_each_seed_and_the_aggregate_table(wandb_sweep: Path):
    train = {}
    for job in sorted(wandb_sweep.glob("[0-9]*")):
        (run_dir,) = (job / "wandb").glob("offline-run-*")
        run = run_summary(run_dir)
        result = json.loads((job / "results.json").read_text())
        assert run["job_type"] == "train" and run["name"] == f"seed {result['seed']}"
        assert run["summary"]["best_dev/pearson"] == pytest.approx(result["dev_score"])
        assert run["summary"]["test/pearson"] == pytest.approx(result["test_score"])
        assert any("train/loss" in h for h in run["history"]) and run["config"]["seed"] == result["seed"]
        assert run["exit_code"] == (0 if result["status"] == "ok" else 1)
        train[result["seed"]] = run
    assert sorted(train) == [1, 2, 3]
    assert len({run["group"] for run in train.values()}) == 1  # one group per configuration
    assert "seed" not in next(iter(train.values()))["group"]
    (aggregate_dir,) = (wandb_sweep / "wandb").glob("offline-run-*")
    aggregate = run_summary(aggregate_dir)
    assert aggregate["job_type"] == "aggregate"
    (table_path,) = [h["summary/path"] for h in aggregate["history"] if h.get("summary/_type") == "table-file"]
    table = json.loads((aggregate_dir / "files" / table_path).read_text())
    (row,) = json.loads((wandb_sweep / "summary.json").read_text())["configurations"]
    column = table["columns"].index("test_mean")
    assert table["data"][0][column] == pytest.approx(row["test"]["mean"])
    assert any(key.startswith("plots/") for h in aggregate["history"] for key in h)


def test_offline_sweep_end_writes_a_workspace_spec_naming_its_real_runs_and_keys(wandb_sweep: Path):
    train = [run_summary(d) for d in sorted(wandb_sweep.glob("[0-9]*/wandb/offline-run-*"))]
    (aggregate_dir,) = (wandb_sweep / "wandb").glob("offline-run-*")
    aggregate = run_summary(aggregate_dir)
    view = json.loads((wandb_sweep / "wandb_workspace.json").read_text())  # the callback wrote it (offline)
    assert view["project"] == aggregate["project"] == train[0]["project"]
    groups, _, name = view["spec"]["section"]["runSets"][0]["filters"]["filters"]
    assert groups["value"] == sorted({run["group"] for run in train}) and name["value"] == aggregate["name"]
    panels = [p for s in view["spec"]["section"]["panelBankConfig"]["sections"] for p in s["panels"]]
    scatter = [p["config"][axis].removeprefix("summary:") for p in panels if p["viewType"] == "Scatter Plot"
               for axis in ("xAxis", "yAxis")]  # fmt: skip
    named = {m for p in panels for m in p["config"].get("metrics", [])} | set(scatter)
    logged = {key for run in train for h in run["history"] for key in h} | {k for run in train for k in run["summary"]}
    assert named == {"dev/pearson", "best_dev/pearson", "test/pearson"} and named | {"epoch"} <= logged
    tables = {f["args"][0]["value"] for p in panels if p["viewType"] == "Vega2"
              for f in p["config"]["userQuery"]["queryFields"][0]["fields"] if f["name"] == "summaryTable"}  # fmt: skip
    assert tables == {"summary", "evp"} and all(any(f"{t}/_type" in h for h in aggregate["history"]) for t in tables)


def test_diverged_run_counts_as_failed_and_the_sweep_goes_on(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    proc = run_cli(*TINY, f"data.root={data}", "hydra.sweep.dir=sweep", "-m", "optim.lr=1e30,5e-5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_lr = {json.loads(p.read_text())["hparams"]["optim"]["lr"]: json.loads(p.read_text())
             for p in (tmp_path / "sweep").glob("*/results.json")}  # fmt: skip
    assert by_lr[1e30]["status"] == "diverged" and by_lr[1e30]["diverged_at_step"] is not None
    assert by_lr[5e-5]["status"] in ("ok", "failed") and by_lr[5e-5]["test_score"] is not None
    rows = {r["config"]: r for r in json.loads((tmp_path / "sweep" / "summary.json").read_text())["configurations"]}
    (diverged,) = [r for label, r in rows.items() if "1e+30" in label or "1e30" in label]
    assert diverged["n_failed"] == 1


@pytest.mark.slow  # over 15 s: make test-slow, so that make test stays under 6 minutes on 2 cores
def test_report_merges_two_sweeps(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    for name, strategy in (("a", "standard"), ("b", "reinit_top")):
        proc = run_cli(*TINY, f"data.root={data}", f"strategy={strategy}", f"hydra.sweep.dir={name}", "-m", "seed=1",
                       cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_cli("report", "a", "b", "--out", "merged", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "merged" / "summary.json").read_text())["configurations"]
    assert sorted(r["strategy"] for r in rows) == ["reinit_top", "standard"]
    assert (tmp_path / "merged" / "scores_biosses.png").is_file()
    assert run_cli("report", "nowhere", cwd=tmp_path).returncode == 2
