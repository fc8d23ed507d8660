"""The study's two stages through the real CLI on tiny_bert: a missing recipe stops stage 2 before
anything runs; stage 1 chooses a recipe per (model, task) on dev and stage 2 trains at it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hydra_plugins.blurb_optuna_sweeper._strata import write_recipes
from tests.conftest import make_task_fixtures, run_cli

TINY = ["model=tiny_bert", "trainer.enable_progress_bar=false", "trainer.max_epochs=1"]


def test_stage_two_without_a_recipe_for_one_pair_stops_before_any_job(tmp_path: Path) -> None:
    data = make_task_fixtures(tmp_path / "data", n=(8, 4, 4))
    write_recipes([{"model": "tiny_bert", "task": "biosses", "lr": 1e-3, "batch_size": 8, "epochs": 1}], tmp_path)
    proc = run_cli(
        "experiment=study", *TINY, "task=biosses,gad", "strategy=standard", f"data.root={data}",
        f"study.recipes={tmp_path / 'recipes.yaml'}", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"blurb-lab: config error: study.recipes: {tmp_path / 'recipes.yaml'} has no recipe for model=tiny_bert "
        "task=gad; choose it on dev first: python -m blurb_lab experiment=study_recipes model=tiny_bert task=gad"
    )
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_stage_one_chooses_per_pair_and_stage_two_trains_at_it(tmp_path: Path) -> None:
    data = make_task_fixtures(tmp_path / "data", n=(16, 6, 6))
    common = [*TINY, "task=biosses,gad", f"data.root={data}", "hydra/launcher=basic"]
    first = run_cli(
        "experiment=study_recipes", *common, "optim.lr=choice(1e-3,1e-4)", "data.batch_size=8",
        "hydra.sweeper.n_trials=2", "hydra.sweeper.seeds=[101]", "hydra.sweep.dir=stage1", cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    entries = yaml.safe_load((tmp_path / "stage1" / "recipes.yaml").read_text())["recipes"]
    assert [(e["model"], e["task"]) for e in entries] == [("tiny_bert", "biosses"), ("tiny_bert", "gad")]
    for entry in entries:
        results = tmp_path / "stage1" / "studies" / f"tiny_bert-{entry['task']}" / "optimization_results.yaml"
        study = yaml.safe_load(results.read_text())
        assert entry["lr"] == study["best_params"]["optim.lr"] and entry["dev_value"] == study["best_value"]
        assert entry["batch_size"] == 8 and entry["epochs"] == 1
    second = run_cli(
        "experiment=study", *common, "strategy=standard", "seed=1", "task.lr=0.5",
        f"study.recipes={tmp_path / 'stage1' / 'recipes.yaml'}", "hydra.sweep.dir=stage2", cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    assert "blurb-lab: task.lr=0.5 is not used: optim.lr=" in second.stderr
    runs = [json.loads(p.read_text()) for p in sorted((tmp_path / "stage2").glob("*/results.json"))]
    assert len(runs) == 2
    for run, entry in zip(runs, entries, strict=True):
        assert run["hparams"]["optim"]["lr"] == entry["lr"]
        assert run["recipe"] == entry["chosen_by"] and run["value_sources"]["lr"] == f"recipe: {entry['chosen_by']}"
        assert run["value_sources"]["epochs"] == "set directly (trainer.max_epochs)"
