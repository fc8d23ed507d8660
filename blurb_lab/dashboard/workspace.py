"""A sweep's W&B workspace (a saved view, built with wandb-workspaces): its runs only, grouped by
configuration, with the panels that judge a sweep: test scores per configuration and seed, dev curves,
the runs that failed, diverged or were pruned, and the EVP curve. Every key a panel reads is one
blurb_lab logs (train.py, models/module.py, report/wandb_summary.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from blurb_lab.dashboard.sweep import SweepRuns
from blurb_lab.results import atomic_write_text

SPEC_FILE = "wandb_workspace.json"
# Columns of the aggregate run's `summary` table (report/csv_schema.py), one bar chart each.
COUNT_COLUMNS = {"n_failed": "failed", "n_diverged": "diverged", "n_pruned": "pruned", "n_crashed": "crashed"}
# The aggregate run's `evp` table: E[max dev] among n runs (Tang et al.'s unbiased estimator).
EVP_TABLE, EVP_X, EVP_Y = "evp", "n", "e_max_dev_unbiased"


def metric_keys(metric: str) -> dict[str, str]:
    """The W&B keys of one task metric: dev/<m> per epoch (history), best_dev/<m> and test/<m> (summary)."""
    return {"dev": f"dev/{metric}", "best_dev": f"best_dev/{metric}", "test": f"test/{metric}"}


def _score_panels(metric: str) -> list[Any]:
    import wandb_workspaces.reports.v2 as wr

    keys = metric_keys(metric)
    return [
        wr.BarPlot(
            title=f"{keys['test']} by configuration (mean, min-max over seeds)",
            metrics=[keys["test"]],
            groupby="Group",
            groupby_aggfunc="mean",
            groupby_rangefunc="minmax",
        ),
        wr.ScatterPlot(
            title=f"{keys['test']} against {keys['best_dev']}, one point per seed",
            x=wr.SummaryMetric(keys["best_dev"]),
            y=wr.SummaryMetric(keys["test"]),
        ),
        wr.LinePlot(
            title=f"{keys['dev']} per epoch by configuration (mean, min-max over seeds)",
            x="epoch",
            y=[keys["dev"]],
            groupby="Group",
            groupby_aggfunc="mean",
            groupby_rangefunc="minmax",
        ),
    ]


def _table_chart(table: str, preset: str, fields: dict[str, str], title: str) -> Any:
    """A custom chart (one of W&B's vega presets) over a table the aggregate run logged."""
    import wandb_workspaces.reports.v2 as wr

    return wr.CustomChart(query={"summaryTable": {"tableKey": table}}, chart_name=preset, chart_fields=fields,
                          chart_strings={"title": title})  # fmt: skip


def _runset(sweep: SweepRuns) -> tuple[Any, Any]:
    """The sweep's runs (its configurations' groups and its aggregate run), grouped by configuration:
    (the runset settings, their filter)."""
    import wandb_workspaces.workspaces as ws

    aggregate = ws.And(ws.Metric("JobType") == "aggregate", ws.Metric("Name") == sweep.aggregate_run)
    filters = ws.Or(ws.Metric("Group").isin(sweep.groups), aggregate)
    columns = ["summary:status"] + [f"summary:{metric_keys(m)[k]}" for m in sweep.metrics for k in ("best_dev", "test")]
    return ws.RunsetSettings(filters=filters, groupby=[ws.Metric("Group")], pinned_columns=columns), filters


def _keep_filters(workspace: Any, filters: Any) -> None:
    """wandb-workspaces writes runset filters as a Python-like string and parses it back before saving,
    which turns every '=' inside a value into '==': a configuration label with an override
    (`optim.lr=2e-5`), and so its W&B group, would match no run. A filter it loaded from W&B, it saves as
    loaded; give it ours that way (built by its own filters_tree_to_v2), and check that it is used."""
    from wandb_workspaces import expr

    v2 = expr.filters_tree_to_v2(filters.to_model())
    workspace._stashed_filters_v2, workspace._stashed_filter_string = v2, workspace.runset_settings.filters
    if workspace._to_model().spec.section.run_sets[0].filters != v2:
        raise RuntimeError("this wandb-workspaces changes the runset filters it saves (blurb_lab expects 0.4.x)")


def build_workspace(sweep: SweepRuns, entity: str) -> Any:
    """The sweep's workspace (a wandb_workspaces Workspace) in its project; `entity` "" when unknown."""
    import wandb_workspaces.workspaces as ws

    sections = [ws.Section(name=f"Scores: {m}", panels=_score_panels(m), is_open=True) for m in sweep.metrics]
    counts = [_table_chart("summary", "wandb/bar/v0", {"label": "config", "value": column}, f"{name} runs")
              for column, name in COUNT_COLUMNS.items()]  # fmt: skip
    sections.append(ws.Section(name="Failed, diverged, pruned and crashed runs", panels=counts, is_open=True))
    evp = _table_chart(EVP_TABLE, "wandb/line/v0", {"x": EVP_X, "y": EVP_Y, "stroke": "config"},
                       "Expected validation performance: E[max dev] among n seeds")  # fmt: skip
    sections.append(ws.Section(name="Expected validation performance", panels=[evp], is_open=True))
    runset, filters = _runset(sweep)
    workspace = ws.Workspace(entity=entity, project=sweep.project, name=f"sweep {sweep.sweep_dir.resolve().name}",
                             sections=sections, runset_settings=runset)  # fmt: skip
    _keep_filters(workspace, filters)
    return workspace


def spec(workspace: Any) -> dict[str, Any]:
    """The view the library sends to W&B (its pydantic model, as JSON), built without any network."""
    return workspace._to_model().model_dump(mode="json", by_alias=True, exclude_none=True)


def write_spec(workspace: Any, sweep_dir: Path) -> Path:
    path = sweep_dir / SPEC_FILE
    atomic_write_text(path, json.dumps(spec(workspace), indent=2) + "\n")
    return path
