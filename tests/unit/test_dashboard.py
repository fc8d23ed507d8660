"""`blurb-lab dashboard`: a sweep's W&B workspace spec, built offline by wandb-workspaces from fake
results.json files, names exactly the sweep's configurations (W&B groups) and the keys blurb_lab logs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from blurb_lab import cli
from blurb_lab.tracking import group_name

CONFIGS = {  # (task, metric, strategy) -> stored config_key
    ("biosses", "pearson", "standard"): "a1b2c3d4e5f60718",
    ("biosses", "pearson", "reinit_top"): "0f1e2d3c4b5a6978",
    ("chemprot", "micro_f1", "standard"): "77aa88bb99cc00dd",
}
# Labels carry the non-seed overrides; '=' and quotes must reach W&B as they are.
OVERRIDES = {"reinit_top": " optim.lr=2e-5 trainer.max_epochs=3", "standard": " task.name='x'"}


def label(task: str, strategy: str) -> str:
    return f"minilm/{task}/{strategy}{OVERRIDES[strategy]}"


LOGGER = {"csv": False, "wandb": True, "wandb_project": "stability", "wandb_entity": None, "wandb_mode": "offline"}


def result(task: str, metric: str, strategy: str, seed: int, status: str = "ok", **logger: Any) -> dict[str, Any]:
    # config_key is what the job stored (and named its W&B group with); today's identity rules would
    # recompute another one from these few hparams, which a workspace must not use.
    return {"status": status, "task": task, "model": "minilm", "strategy": strategy, "seed": seed, "metric": metric,
            "dev_score": 0.5, "test_score": None if status == "crashed" else 0.4, "dev_curve": [0.5],
            "config_key": CONFIGS[(task, metric, strategy)], "config_label": label(task, strategy),
            "hparams": {"seed": seed, "logger": {**LOGGER, **logger}}}  # fmt: skip


def make_sweep(root: Path, results: list[dict[str, Any]]) -> Path:
    for i, r in enumerate(results):
        (root / str(i)).mkdir(parents=True)
        (root / str(i) / "results.json").write_text(json.dumps(r))
    return root


def blurb_lab(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """The real entry point, in process; its exit status."""
    monkeypatch.setattr(sys, "argv", ["blurb-lab", *args])
    try:
        cli.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def panel_keys(panel: dict[str, Any]) -> set[str]:
    """The W&B keys a panel reads: history/summary metrics, or the table and columns of a custom chart."""
    config = panel["config"]
    if panel["viewType"] == "Vega2":
        (query,) = config["userQuery"]["queryFields"]
        tables = {f["args"][0]["value"] for f in query["fields"] if f["name"] == "summaryTable"}
        return {f"{table}.{column}" for table in tables for column in config["fieldSettings"].values()}
    if panel["viewType"] == "Scatter Plot":
        return {config[axis].removeprefix("summary:") for axis in ("xAxis", "yAxis")}
    return set(config["metrics"])


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")


def test_spec_names_exactly_the_sweeps_configurations_and_logged_keys(tmp_path: Path, monkeypatch, capsys, offline):
    runs = [result(*config, seed) for config in CONFIGS for seed in (1, 2)]
    runs.append(result("biosses", "pearson", "standard", 3, "crashed"))
    sweep = make_sweep(tmp_path / "12-00-00-000001", runs)
    assert blurb_lab(monkeypatch, "dashboard", str(sweep)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"W&B workspace spec written to {sweep / 'wandb_workspace.json'}; create it after `wandb sync` "
                   f"with: blurb-lab dashboard {sweep} --push"]  # fmt: skip

    view = json.loads((sweep / "wandb_workspace.json").read_text())
    assert (view["entity"], view["project"], view["displayName"]) == ("", "stability", "sweep 12-00-00-000001")
    (runset,) = view["spec"]["section"]["runSets"]
    group, job_type, name = runset["filters"]["filters"]
    groups = {group_name(label(task, strategy), key) for (task, _, strategy), key in CONFIGS.items()}
    assert group["key"] == {"section": "run", "name": "group"} and group["op"] == "IN"
    assert sorted(group["value"]) == sorted(groups) and len(group["value"]) == 3
    # ... or (AND binds first) the sweep's aggregate run, named as report/wandb_summary.py names it
    assert (job_type["connector"], job_type["key"]["name"], job_type["value"]) == ("OR", "jobType", "aggregate")
    assert (name["connector"], name["key"]["name"], name["value"]) == ("AND", "displayName", "summary 12-00-00-000001")
    assert runset["grouping"] == [{"section": "run", "name": "group"}]

    sections = {s["name"]: s["panels"] for s in view["spec"]["section"]["panelBankConfig"]["sections"]}
    assert list(sections) == ["Scores: micro_f1", "Scores: pearson", "Failed, diverged, pruned and crashed runs",
                              "Expected validation performance"]  # fmt: skip
    for metric in ("pearson", "micro_f1"):
        panels = sections[f"Scores: {metric}"]
        assert [panel_keys(p) for p in panels] == [{f"test/{metric}"}, {f"best_dev/{metric}", f"test/{metric}"},
                                                   {f"dev/{metric}"}]  # fmt: skip
        bar, _, curves = panels
        assert (
            bar["config"]["groupBy"] == curves["config"]["groupBy"] == "group" and curves["config"]["xAxis"] == "epoch"
        )
    counts = set().union(*map(panel_keys, sections["Failed, diverged, pruned and crashed runs"]))
    assert counts == {f"summary.{c}" for c in ("config", "n_failed", "n_diverged", "n_pruned", "n_crashed")}
    (evp,) = sections["Expected validation performance"]
    assert panel_keys(evp) == {"evp.n", "evp.e_max_dev_unbiased", "evp.config"}


def test_the_spec_is_the_same_from_any_path_to_the_sweep(tmp_path: Path, monkeypatch, capsys, offline):
    sweep = make_sweep(tmp_path / "sweep", [result("biosses", "pearson", "standard", 1, wandb_entity="lab")])
    monkeypatch.chdir(sweep)
    assert blurb_lab(monkeypatch, "dashboard", ".") == 0
    view = json.loads((sweep / "wandb_workspace.json").read_text())
    assert view["entity"] == "lab" and view["displayName"] == "sweep sweep"
    assert view["spec"]["section"]["runSets"][0]["filters"]["filters"][2]["value"] == "summary sweep"


def test_bad_sweep_dirs_end_in_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys, offline):
    no_wandb = make_sweep(tmp_path / "csv", [result("biosses", "pearson", "standard", 1, wandb=False)])
    other = result("biosses", "pearson", "standard", 2, wandb_project="other")
    two = make_sweep(tmp_path / "two", [result("biosses", "pearson", "standard", 1), other])
    (tmp_path / "empty").mkdir()
    cases = {
        tmp_path / "nowhere": "not a directory",
        tmp_path / "empty": "no results.json under",
        no_wandb: "logged to W&B (run the sweep with logger=wandb)",
        two: "several W&B projects (other, stability)",
    }
    for path, message in cases.items():
        assert blurb_lab(monkeypatch, "dashboard", str(path)) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("blurb-lab dashboard: ") and message in line, line
    assert not list(tmp_path.rglob("wandb_workspace.json"))


def test_push_needs_a_reachable_wandb(tmp_path: Path, monkeypatch, capsys, offline):
    sweep = make_sweep(tmp_path / "sweep", [result("biosses", "pearson", "standard", 1)])
    assert blurb_lab(monkeypatch, "dashboard", str(sweep), "--push") == 2
    assert capsys.readouterr().err.strip() == "blurb-lab dashboard: cannot push: W&B mode is offline (WANDB_MODE)"
