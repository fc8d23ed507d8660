"""The study's two stages without training: recipe precedence, checks of every lr / batch size /
epochs, the recipes file (read, matched, written by strata), and the jobs its sweepers will run."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hydra import initialize_config_dir
from optuna.distributions import CategoricalDistribution

from blurb_lab.config.compose import CONFIG_DIR
from blurb_lab.config.resolvers import shadowed_notes, value_sources
from blurb_lab.config.validate import validate
from blurb_lab.errors import ConfigError
from blurb_lab.sweep_jobs import keep_task_seeds, sweep_jobs
from hydra_plugins.blurb_optuna_sweeper._strata import Stratum, recipe_entry, split_strata, write_recipes
from tests.conftest import compose_config

RECIPE = {"model": "minilm", "task": "gad", "lr": 2.0e-5, "batch_size": 32, "epochs": 3, "chosen_by": "stage 1"}


def recipes_file(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "recipes.yaml"
    write_recipes(list(entries), tmp_path)
    return path


def values(cfg) -> tuple:
    return cfg.optim.lr, cfg.data.batch_size, cfg.trainer.max_epochs


def test_precedence_direct_then_study_recipe_then_model_recipe_then_task(tmp_path: Path) -> None:
    path = recipes_file(tmp_path, RECIPE)
    study = compose_config(["task=gad", f"study.recipes={path}"])
    assert values(study) == (2.0e-5, 32, 3)
    assert value_sources(study) == {field: "recipe: stage 1" for field in ("lr", "batch_size", "epochs")}
    direct = compose_config(["task=gad", f"study.recipes={path}", "optim.lr=7e-5"])
    assert values(direct) == (7e-5, 32, 3) and value_sources(direct)["lr"] == "set directly (optim.lr)"
    # Without the file: MiniLM's own recipe for classification sets lr and batch size, the task its epochs.
    own = compose_config(["task=gad"])
    assert values(own) == (1.0e-4, 16, own.task.epochs)
    assert value_sources(own)["epochs"] == "task gad"
    # A model without recipes: the task's BLURB values.
    bert = compose_config(["task=gad", "model=pubmedbert_base"])
    assert values(bert) == (bert.task.lr, bert.task.batch_size, bert.task.epochs)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("task.lr=-1", "config error: task.lr: -1.0 is not allowed; must be > 0"),
        ("task.lr=0", "config error: task.lr: 0.0 is not allowed; must be > 0"),
        ("task.batch_size=0", "config error: task.batch_size: 0 is not allowed; must be > 0"),
        ("task.epochs=0", "config error: task.epochs: 0 is not allowed; must be > 0"),
        ("model.recipes.1.batch_size=0", "config error: model.recipes[1].batch_size: 0 is not allowed"),
    ],
)
def test_shadowed_values_are_checked_even_when_unused(override: str, message: str) -> None:
    cfg = compose_config(["model=minilm", "task=biosses", override])  # MiniLM's recipe sets all three
    with pytest.raises(ConfigError) as caught:
        validate(cfg)
    assert str(caught.value).startswith(message)


def test_a_shadowed_user_value_gets_one_line_saying_what_won() -> None:
    cfg = compose_config(["model=minilm", "task=biosses", "task.lr=1e-5", "task.epochs=4"])
    notes = shadowed_notes(cfg, {"task.lr", "task.epochs"})
    assert len(notes) == 2
    assert notes[0].startswith("task.lr=1e-05 is not used: optim.lr=5e-05 wins, recipe: hparams_search=")
    assert notes[1].startswith("task.epochs=4 is not used: trainer.max_epochs=10 wins, recipe:")
    used = compose_config(["model=pubmedbert_base", "task=biosses", "task.lr=1e-5"])
    assert shadowed_notes(used, {"task.lr"}) == [] and used.optim.lr == 1e-5


def test_recipes_file_errors_name_the_file_line_model_and_task(tmp_path: Path) -> None:
    path = recipes_file(tmp_path, RECIPE)
    with pytest.raises(ConfigError, match=r"has no recipe for model=minilm task=biosses; .* task=biosses$"):
        validate(compose_config(["task=biosses", f"study.recipes={path}"]))
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipes:\n  - model: minilm\n    task: [gad\n")
    with pytest.raises(ConfigError, match=rf"study.recipes: {bad}:4: not valid YAML"):
        validate(compose_config(["task=gad", f"study.recipes={bad}"]))
    negative = recipes_file(tmp_path / "n", {**RECIPE, "lr": -1}) if (tmp_path / "n").mkdir() is None else None
    with pytest.raises(ConfigError, match=r"recipes\[0\]\.lr: -1 is not allowed"):
        validate(compose_config(["task=gad", f"study.recipes={negative}"]))
    with pytest.raises(ConfigError, match="no such file"):
        validate(compose_config(["task=gad", f"study.recipes={tmp_path / 'none.yaml'}"]))


def test_write_recipes_keeps_other_slices_and_replaces_the_same_pair(tmp_path: Path) -> None:
    write_recipes([RECIPE, {**RECIPE, "task": "biosses"}], tmp_path)
    write_recipes([{**RECIPE, "lr": 5e-5}, {**RECIPE, "model": "tiny_bert"}], tmp_path)
    cfg = compose_config(["task=biosses", f"study.recipes={tmp_path / 'recipes.yaml'}"])
    assert cfg.optim.lr == 2.0e-5  # the earlier slice's entry is kept
    assert compose_config(["task=gad", f"study.recipes={tmp_path / 'recipes.yaml'}"]).optim.lr == 5e-5


def test_strata_split_one_study_per_model_and_task(tmp_path: Path) -> None:
    space = {
        "model": CategoricalDistribution(["minilm", "tiny_bert"]),
        "optim.lr": CategoricalDistribution([1e-5, 3e-5]),
    }
    fixed, rest, strata = split_strata(["task=gad", "trainer.max_epochs=2"], space, ["model", "task"])
    assert fixed == ["trainer.max_epochs=2"] and list(rest) == ["optim.lr"]
    assert [s.values for s in strata] == [{"model": "minilm", "task": "gad"}, {"model": "tiny_bert", "task": "gad"}]
    assert split_strata(["task=gad"], space, [])[2] == [Stratum({}, 0)]
    study = optuna.create_study(direction="maximize", study_name="s")
    for lr, value in ((1e-5, 0.4), (3e-5, 0.6)):
        trial = study.ask({"optim.lr": CategoricalDistribution([1e-5, 3e-5])})
        trial.set_user_attr("recipe", {"lr": lr, "batch_size": 16, "epochs": 2})
        trial.set_user_attr("seeds", [1, 2])
        study.tell(trial, value)
    entry = recipe_entry(strata[1], study, tmp_path, "dev_score", "mean")
    assert entry is not None
    assert {k: entry[k] for k in ("model", "task", "lr", "batch_size", "epochs")} == {
        "model": "tiny_bert", "task": "gad", "lr": 3e-5, "batch_size": 16, "epochs": 2,
    }  # fmt: skip
    assert entry["dev_value"] == 0.6 and "trial 1" in entry["chosen_by"]


def test_keep_task_seeds_follows_each_tasks_count() -> None:
    jobs = [[f"task={t}", f"seed={s}", f"strategy={g}"] for t in ("biosses", "gad") for s in range(1, 11) for g in "ab"]
    kept = keep_task_seeds(jobs, lambda lines: 10 if "task=biosses" in lines else 5)
    assert len(kept) == 20 + 10
    assert {j[1] for j in kept if j[0] == "task=gad"} == {f"seed={s}" for s in range(1, 6)}


def test_sweep_jobs_of_the_two_stages() -> None:
    second = compose_config(["experiment=study"], hydra=True)
    first = compose_config(["experiment=study_recipes"], hydra=True)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):  # task seed counts are composed
        # 13 tasks: 3 with 10 seeds, 10 with 5; 4 models x 4 strategies.
        assert len(sweep_jobs(second, [])) == 4 * 4 * (3 * 10 + 10 * 5)
        assert len(sweep_jobs(second, ["model=pubmedbert_base", "task=biosses,gad", "seed=range(1,4)"])) == 4 * 2 * 3
    assert len(sweep_jobs(first, [])) == 4 * 13 * 6 * 3
    assert len(sweep_jobs(first, ["model=minilm", "task=biosses,gad", "optim.lr=choice(1e-4,3e-4)"])) == 2 * (2 * 2) * 3
