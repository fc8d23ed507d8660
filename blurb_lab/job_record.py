"""What a job leaves on record: what its steps made (Prepared, Fitted), how it ended (judge ->
Outcome) and its results.json, finished (job_results) or crashed (crash_record), both built on the
keys every record has (results_record). train.py runs the steps; this module only reads them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab.identity import configuration_key, configuration_label
from blurb_lab.results import CRASHED, scrub_secrets, versions
from blurb_lab.seeds import SEED_KEYS


@dataclass
class Prepared:
    """Everything a job trains and evaluates, built from the config (data, tokenizer, model)."""

    task_type: Any
    splits: dict[str, list[dict[str, Any]]]
    datamodule: Any
    module: Any
    plan: Any
    strategy_applied: str
    added_tokens: list[str]
    initialised_weights: list[str]
    references: dict[str, float | None]


@dataclass
class Fitted:
    """What fit left: the trainer, the best dev epoch's weights (BestWeights), when a pruner
    stopped the run the epoch it stopped at, and fit's seconds (of which val_time in dev evaluation)."""

    trainer: Any
    best: Any
    pruned_at: int | None
    fit_time: float
    val_time: float = 0.0


@dataclass
class Outcome:
    """How the job ended (run_status) and the scores and losses that decided it."""

    status: str
    failure: str | None
    test_score: float
    test_time: float
    final_loss: float | None
    trivial_loss: float


def judge(prepared: Prepared, fitted: Fitted, test_score: float, test_time: float) -> Outcome:
    """The job's status: pruned, diverged, failed (no better than the trivial predictor) or ok."""
    task_type, module = prepared.task_type, prepared.module
    trivial = prepared.references["trivial_dev_score"]
    trivial_loss = task_type.trivial_loss(prepared.splits["train"])
    final_loss = module.train_loss_curve[-1] if module.train_loss_curve else None
    failed = task_type.is_failed(fitted.best.best_score, trivial)
    status, failure = run_status(module.diverged_at, failed, final_loss, trivial_loss)
    if fitted.pruned_at is not None:
        status, failure = "pruned", None
    return Outcome(status, failure, test_score, test_time, final_loss, trivial_loss)


def run_status(
    diverged_at: int | None, failed: bool, final_loss: float | None, trivial_loss: float
) -> tuple[str, str | None]:
    """(status, failure_kind): a failed run either never optimised (its final training loss is not
    below the constant predictor's) or optimised but did not generalise (Mosbach et al. 2021)."""
    if diverged_at is not None:
        return "diverged", "diverged"
    if not failed:
        return "ok", None
    if final_loss is None or not math.isfinite(final_loss) or final_loss >= trivial_loss:
        return "failed", "no_optimisation"
    return "failed", "no_generalisation"


def results_record(
    cfg: DictConfig, status: str, hparams: dict[str, Any], overrides: list[str], fields: dict[str, Any]
) -> dict[str, Any]:
    """The keys every results.json has, finished or crashed: its status, what ran (task, model,
    strategy, seeds, metric), then `fields` (how this job ended), then the configuration's identity,
    its resolved hparams and the versions that ran it."""
    return {
        "status": status,
        "task": cfg.task.name,
        "model": cfg.model.name,
        "strategy": cfg.strategy.name,
        **{key: cfg.get(key) for key in SEED_KEYS},
        "metric": cfg.task.metric,
        **fields,
        "config_key": configuration_key(hparams),
        "config_label": configuration_label(cfg, overrides),
        "hparams": hparams,
        "versions": versions(),
    }


def job_results(
    cfg: DictConfig,
    prepared: Prepared,
    fitted: Fitted,
    outcome: Outcome,
    hparams: dict[str, Any],
    overrides: list[str],
    recipe: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """What results.json holds for a job that ran to its end. `recipe` holds two of its keys, read
    before the config was resolved: `recipe`, the chosen_by of the recipe behind its lr, batch size or
    epochs (resolvers.applied_recipe), and `value_sources`, where each of the three came from."""
    task_type, module, datamodule, plan = prepared.task_type, prepared.module, prepared.datamodule, prepared.plan
    best, test_score = fitted.best, outcome.test_score
    fields = {
        "strategy_applied": prepared.strategy_applied,
        **prepared.references,
        "pooling": cfg.model.pooling if task_type.sequence_level else None,
        "pair_encoding": cfg.task.pair_encoding if cfg.task.type == "sentence_pair_regression" else None,
        **recipe,
        **task_type.describe(),
        "initialised_weights": prepared.initialised_weights,
        "dev_score": best.best_score if math.isfinite(best.best_score) else None,
        "test_score": test_score if math.isfinite(test_score) else None,
        "best_epoch": best.best_epoch,
        "pruned_at_epoch": fitted.pruned_at,
        "dev_curve": module.dev_curve,
        "diverged_at_step": module.diverged_at,
        "failure_kind": outcome.failure,
        "final_train_loss": outcome.final_loss,
        "trivial_train_loss": outcome.trivial_loss,
        "train_loss_curve": module.train_loss_curve,
        "epochs": fitted.trainer.current_epoch,
        "added_special_tokens": prepared.added_tokens,
        "n_trainable_params": plan.n_trainable,
        "n_frozen_params": plan.n_frozen,
        "n_train_examples": len(datamodule.features["train"]),
        "n_train_tokens": sum(len(f["input_ids"]) for f in datamodule.features["train"]),
        "fit_time_s": round(fitted.fit_time, 3),
        "test_time_s": round(outcome.test_time, 3),
        "val_time_s": round(fitted.val_time, 3),  # dev evaluations, part of fit_time_s
        "eval_time_s": round(fitted.val_time + outcome.test_time, 3),  # dev evaluations + the test pass
        "wall_time_s": round(time.time() - started, 3),
    }
    return results_record(cfg, outcome.status, hparams, overrides, fields)


def crash_record(cfg: DictConfig, exc: Exception, overrides: list[str]) -> dict[str, Any]:
    """results.json of a job that raised: status `crashed`, the error and no scores; resume runs it again."""
    try:
        hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=True))
    except Exception:  # noqa: BLE001 - the crash may be an interpolation that cannot resolve
        hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=False))
    error = scrub_secrets(f"{type(exc).__name__}: {exc}")
    return results_record(cfg, CRASHED, hparams, overrides, {"error": error, "dev_score": None, "test_score": None})
