"""The blurb_optuna Hydra sweeper: real sweeps of tiny_bert on a small BIOSSES-format set, no mocks."""

from __future__ import annotations

import statistics
from pathlib import Path

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.blurb_optuna_sweeper._scoring import aggregate
from hydra_plugins.blurb_optuna_sweeper._search_space import distribution_from_override, format_value, grid_from_space
from hydra_plugins.blurb_optuna_sweeper.config import Direction, Objective
from hydra_plugins.blurb_optuna_sweeper.reporting import PRUNED_ATTR, TrialReporter, job_env, job_overrides
from tests.conftest import compose_config

optuna.logging.set_verbosity(optuna.logging.WARNING)


def load(sweep_dir: Path, study_name: str) -> optuna.Study:
    return optuna.load_study(study_name=study_name, storage=f"sqlite:///{sweep_dir / 'optuna.db'}")


# ----------------------------------------------------------------------------- pure pieces


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval(0.5, 1.0)", FloatDistribution(0.5, 1.0)),
        ("tag(log, interval(1e-6, 1e-4))", FloatDistribution(1e-6, 1e-4, log=True)),
        ("tag(int, interval(1, 4))", IntDistribution(1, 4)),
        ("range(0, 6, 2)", IntDistribution(0, 4, step=2)),  # stop is exclusive, as in Hydra
        ("choice(a, 2, 0.5)", CategoricalDistribution(["a", 2, 0.5])),
        ("1,2", CategoricalDistribution([1, 2])),
    ],
)
def test_params_become_optuna_distributions(text: str, expected: object) -> None:
    override = OverridesParser.create().parse_override(f"x={text}")
    assert distribution_from_override(override) == expected


def test_grid_and_value_formatting() -> None:
    grid = grid_from_space({"a": CategoricalDistribution(["x", "y"]), "b": IntDistribution(0, 4, step=2)})
    assert grid == {"a": ["x", "y"], "b": [0, 2, 4]}
    parser = OverridesParser.create()
    for value in (1e-5, 3, True, "plain", "two words", "it's"):
        assert parser.parse_override(f"k={format_value(value)}").value() == value


def test_objectives() -> None:
    scores = [0.2, 0.4, 0.9]
    assert aggregate(scores, Objective.mean, Direction.maximize) == pytest.approx(0.5)
    assert aggregate(scores, Objective.median, Direction.maximize) == pytest.approx(0.4)
    std = statistics.stdev(scores)
    assert aggregate(scores, Objective.mean_minus_std, Direction.maximize) == pytest.approx(0.5 - std)
    assert aggregate(scores, Objective.mean_minus_std, Direction.minimize) == pytest.approx(0.5 + std)


def test_preset_composes_the_sweeper() -> None:

    cfg = compose_config(overrides=["hparams_search=lr_decay"], hydra=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("BlurbOptunaSweeper")
    assert sweeper.params == {
        "optim.lr": "tag(log, interval(1e-6, 1e-4))",
        "strategy.layer_decay": "interval(0.5, 1.0)",
    }
    assert list(sweeper.seeds) == [1, 2, 3] and sweeper.sampler.seed is not None
    assert cfg.hydra.mode.name == "MULTIRUN"


def test_job_reports_to_its_trial_and_is_pruned(tmp_path: Path) -> None:
    """The job side of pruning, against a real SQLite study and MedianPruner."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    study.set_user_attr("blurb_optuna_pruner", {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 1})
    good = study.ask()
    for epoch in range(3):
        good.report(0.9, epoch)
    study.tell(good, 0.9)
    bad = study.ask()
    first, other = TrialReporter(storage, "s", bad.number, 0), TrialReporter(storage, "s", bad.number, 1)
    assert other.report(0, 0.0) is False  # nothing decided yet
    assert first.report(0, 0.1) is True  # worse than the median at epoch 0
    assert other.report(0, 0.0) is True  # the other seeds stop too
    assert load(tmp_path, "s").trials[1].user_attrs[PRUNED_ATTR] == 0
    assert all(o.startswith("++hydra.job.env_set.BLURB_") for o in job_overrides(storage, "s", 1, 0))


def test_a_job_gets_the_pruning_callback_through_its_environment(tmp_path: Path, monkeypatch) -> None:
    """blurb_lab imports no plugin: the sweeper names its callback factory in the job's environment."""
    import pytorch_lightning as pl

    from blurb_lab.callbacks import requested_callbacks
    from blurb_lab.errors import ConfigError

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    study.set_user_attr("blurb_optuna_pruner", {"_target_": "optuna.pruners.MedianPruner"})
    for key, value in job_env(storage, "s", study.ask().number, 0).items():
        monkeypatch.setenv(key, value)
    (callback,) = requested_callbacks("dev/pearson")
    assert isinstance(callback, pl.Callback) and callback.pruned_at is None
    monkeypatch.delenv("BLURB_OPTUNA_STUDY")  # not a job of a pruned sweep: the factory gives nothing
    assert requested_callbacks("dev/pearson") == []
    monkeypatch.setenv("BLURB_LAB_CALLBACKS", "no_such_module:factory")
    with pytest.raises(ConfigError, match="BLURB_LAB_CALLBACKS: cannot load callback factory 'no_such_module"):
        requested_callbacks("dev/pearson")


# ----------------------------------------------------------------------------- real sweeps


@pytest.mark.parametrize(
    ("preset", "pair_head"),
    [
        ("minilm_bi_cv_recipe", "linear"),  # bi-encoding ignores the head
        ("minilm_cross_cv_recipe", "linear"),
        ("minilm_cross_cosine_cv_recipe", "cosine"),
    ],
)
def test_cross_validated_recipe_presets_score_each_trial_over_the_five_folds(preset: str, pair_head: str) -> None:
    """Seeds 1-5 are the five folds (data.cv_folds=5), so a trial's mean rests on all of train + dev."""

    cfg = compose_config(overrides=[f"hparams_search={preset}"], hydra=True)
    sweeper = cfg.hydra.sweeper
    assert list(sweeper.seeds) == [1, 2, 3, 4, 5] and str(sweeper.objective).endswith("mean")
    # A preset sets ordinary keys as plain values: it composes after conf/config.yaml's own keys.
    assert cfg.data.cv_folds == 5 and "data.cv_folds" not in sweeper.params and "optim.lr" in sweeper.params
    assert cfg.trainer.max_epochs == 10 and "trainer.max_epochs" not in sweeper.params
    assert sweeper.sampler._target_.endswith("GridSampler") and cfg.model.name == "minilm"
    assert cfg.model.pair_head == pair_head  # the head each search was run with
