"""One job: config -> data -> model + strategy -> fit -> test at the best dev epoch -> results.json."""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab import tracking
from blurb_lab.callbacks import pruned_at, requested_callbacks
from blurb_lab.config.resolvers import applied_recipe
from blurb_lab.config.validate import validate
from blurb_lab.data.checks import check_splits
from blurb_lab.data.readers import load_splits
from blurb_lab.distributed import is_rank_zero
from blurb_lab.identity import configuration_key, configuration_label
from blurb_lab.results import RESULTS_FILE, provenance, scrub_secrets, versions, write_json, write_jsonl

log = logging.getLogger(__name__)


def quiet_library_noise() -> None:
    """Silence library chatter that says nothing about this run (tips, deprecations inside libs)."""
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Distributed evaluation gathers predictions by example index (padding repeats dropped), so
    # Lightning's advice about DistributedSampler and sync_dist does not apply.
    warnings.filterwarnings("ignore", message=".*Using `DistributedSampler` with the dataloaders.*")
    warnings.filterwarnings("ignore", message=".*when logging on epoch level in distributed setting.*")
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
        lambda record: "litlogger" not in record.getMessage()
    )


def write_predictions(path: Path, task_type: Any, records: list[dict[str, Any]], predictions: list[Any]) -> None:
    """One line per gold record, in gold order: the format `python -m blurb_lab.evaluate` scores."""
    rows = ({"id": r.get("id"), "prediction": task_type.to_json(p)} for r, p in zip(records, predictions, strict=True))
    write_jsonl(path, rows)


def run_job(cfg: DictConfig, output_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """Train and evaluate one (model, task, strategy, seed); return what results.json holds.

    With several devices on one machine, the ranks are spawned here and each runs `_run_rank`;
    rank 0 writes results.json, which this process then reads back.
    """
    from blurb_lab.distributed import spawn_ranks, wants_spawn
    from blurb_lab.parallel import ranks

    if not wants_spawn(cfg.trainer):
        return _run(cfg, output_dir, overrides)
    validate(cfg)  # fail before starting any process
    resolved = OmegaConf.to_container(cfg, resolve=True)  # ${hydra:...} cannot resolve in the ranks
    results_path = output_dir / RESULTS_FILE
    results_path.unlink(missing_ok=True)
    spawn_ranks(ranks(cfg.trainer.devices), _run_rank, resolved, str(output_dir), overrides)
    return json.loads(results_path.read_text())


def _run_rank(resolved: dict[str, Any], output_dir: str, overrides: list[str]) -> None:
    results = _run(OmegaConf.create(resolved), Path(output_dir), overrides)
    if is_rank_zero() and results.get("status") != "inspected":
        write_results(Path(output_dir), results)
    tracking.finish(0)


def loader_workers(configured: int) -> int:
    """Data-loader worker processes: collate is cheap, so only machines with cores to spare get any."""
    if configured >= 0:
        return configured
    import os

    return min(4, (os.cpu_count() or 1) // 4)


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


def prepare(cfg: DictConfig) -> Prepared:
    """Read and check the data, tokenise (cached), build the encoder and head, apply the strategy."""
    import pytorch_lightning as pl
    import torch

    from blurb_lab.data.datamodule import BlurbDataModule
    from blurb_lab.models.loading import add_entity_markers, check_pooler, load_encoder, load_tokenizer
    from blurb_lab.models.module import FineTuner
    from blurb_lab.models.pooling import reads_encoder_pooler
    from blurb_lab.references import trivial_scores, zero_shot_scores
    from blurb_lab.strategies import apply_strategy, resolve_auto
    from blurb_lab.tasks import get_task_type

    task_type = get_task_type(cfg.task, cfg.model.pair_head)
    splits = load_splits(cfg)
    check_splits(task_type, splits)  # shape and values (finite, in range, unique ids, no empty text)

    pl.seed_everything(cfg.seed_init, workers=True, verbose=False)  # new weights: head, re-init, random encoders
    tokenizer = load_tokenizer(cfg.model, task_type.texts(splits["train"]))
    added_tokens = add_entity_markers(tokenizer, list(cfg.task.entity_markers))
    datamodule = BlurbDataModule(
        task_type,
        splits,
        tokenizer,
        max_len=cfg.task.max_len,
        batch_size=cfg.data.batch_size,
        eval_batch_size=cfg.data.eval_batch_size,
        cache_dir=cfg.data.cache_dir,
        seed=cfg.seed_data,
        num_workers=loader_workers(cfg.data.num_workers),
        group_by_length=cfg.data.group_by_length,
        sort_eval_by_length=cfg.data.sort_eval_by_length,
    )
    datamodule.setup()

    encoder, initialised = load_encoder(cfg.model, len(tokenizer))
    encoder.train()  # from_pretrained returns eval mode, and Lightning keeps each module's mode
    if len(tokenizer) > encoder.get_input_embeddings().num_embeddings:
        encoder.resize_token_embeddings(len(tokenizer))
    check_pooler(cfg.model, encoder, initialised)
    references = trivial_scores(task_type, splits)
    references.update(zero_shot_scores(cfg.model, task_type, splits, encoder, tokenizer, cfg.data.cache_dir))
    pooling = cfg.model.pooling
    if getattr(encoder, "pooler", None) is not None and not reads_encoder_pooler(pooling, task_type.sequence_level):
        encoder.pooler = None
    init_std = getattr(encoder.config, "initializer_range", 0.02)
    own_pooler = reads_encoder_pooler(pooling, task_type.sequence_level) and getattr(encoder, "pooler", None) is None
    task_type.fit(splits["train"])
    head = task_type.build_head(encoder.config.hidden_size, cfg.model.dropout, pooling, own_pooler, init_std)
    applied, knobs = resolve_auto(cfg.strategy, cfg.model, cfg.task)
    strategy = OmegaConf.merge(cfg.strategy, knobs) if knobs else cfg.strategy
    plan = apply_strategy(
        encoder,
        head,
        strategy,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        extra_pooler=head.pooler if own_pooler else None,
    )
    pad_id = tokenizer.pad_token_id
    task_type.init_head(encoder, head, datamodule.features, pad_id if pad_id is not None else 0)
    module = FineTuner(encoder, head, task_type, plan.param_groups, cfg.optim)
    torch.manual_seed(cfg.seed_dropout)  # from here on the global stream only draws dropout masks
    if cfg.trainer.compile:
        module.encoder = torch.compile(module.encoder)  # same parameters, so the optimizer groups still hold
    return Prepared(task_type, splits, datamodule, module, plan, applied, added_tokens, initialised, references)


def trainer_devices(trainer_cfg: Any) -> Any:
    """trainer.devices, or on a GPU trainer the GPUs of the slot a parallel launcher gave the job."""
    from blurb_lab.parallel import slot_devices, uses_gpus, visible_gpus

    slot = trainer_cfg.get("device_slot")
    if slot is None or not uses_gpus(trainer_cfg):
        return trainer_cfg.devices
    return slot_devices(slot, trainer_cfg.devices, visible_gpus())


def make_trainer(cfg: DictConfig, output_dir: Path, loggers: list[Any], callbacks: list[Any]) -> Any:
    """The Lightning Trainer. use_distributed_sampler=False: BlurbDataModule shards every loader
    itself (whole length-grouped batches per rank), so Lightning must not re-wrap and re-shuffle."""
    import pytorch_lightning as pl

    return pl.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=trainer_devices(cfg.trainer),
        strategy=cfg.trainer.strategy,
        use_distributed_sampler=False,
        num_nodes=cfg.trainer.num_nodes,
        precision=cfg.trainer.precision,
        max_epochs=cfg.trainer.max_epochs,
        limit_train_batches=cfg.trainer.limit_train_batches
        if cfg.trainer.limit_train_batches <= 1
        else int(cfg.trainer.limit_train_batches),
        gradient_clip_val=cfg.optim.gradient_clip_val or None,
        deterministic=cfg.trainer.deterministic,
        logger=loggers or False,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=cfg.trainer.enable_progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        default_root_dir=str(output_dir),
    )


def _run(cfg: DictConfig, output_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """One job's data flow: prepare, fit, test at the best dev epoch, then write what the run leaves."""
    started = time.time()
    quiet_library_noise()
    validate(cfg)
    prepared = prepare(cfg)
    if is_rank_zero():
        print(prepared.plan.format_table())
    if cfg.inspect:
        return _inspect(output_dir, prepared)
    hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=True))
    key, label = configuration_key(hparams), configuration_label(cfg, overrides)
    loggers = make_loggers(cfg, output_dir, label, key, hparams)
    fitted = fit(cfg, output_dir, prepared, loggers)
    test_score, test_time = best_test_score(fitted, prepared, cfg.task.metric)
    save_checkpoint(cfg, output_dir, fitted)
    write_test_predictions(output_dir, prepared, fitted)
    outcome = judge(prepared, fitted, test_score, test_time)
    if cfg.logger.wandb and is_rank_zero():
        summarise_to_wandb(loggers[-1], cfg, prepared, fitted, outcome)
    return job_results(cfg, prepared, fitted, outcome, hparams, key, label, started)


def _inspect(output_dir: Path, prepared: Prepared) -> dict[str, Any]:
    """inspect=true: the strategy's optimizer groups go to param_groups.json, nothing is trained."""
    applied = prepared.strategy_applied
    if is_rank_zero():
        write_json(output_dir / "param_groups.json", {"strategy_applied": applied, **prepared.plan.to_json()})
    return {"status": "inspected", "strategy_applied": applied}


def make_loggers(cfg: DictConfig, output_dir: Path, label: str, key: str, hparams: dict[str, Any]) -> list[Any]:
    """CSV and (rank 0 only) W&B loggers, as logger.* asks; W&B, when there, is the last one."""
    import pytorch_lightning as pl

    loggers: list[Any] = []
    if cfg.logger.csv:
        loggers.append(pl.loggers.CSVLogger(save_dir=str(output_dir), name="csv", version=""))
    if cfg.logger.wandb and is_rank_zero():
        loggers.append(tracking.wandb_logger(cfg, output_dir, label, key, hparams))
    return loggers


@dataclass
class Fitted:
    """What fit left: the trainer, the best dev epoch's weights (BestWeights), when a pruner
    stopped the run the epoch it stopped at, and fit's seconds (of which val_time in dev evaluation)."""

    trainer: Any
    best: Any
    pruned_at: int | None
    fit_time: float
    val_time: float = 0.0


def fit(cfg: DictConfig, output_dir: Path, prepared: Prepared, loggers: list[Any]) -> Fitted:
    """Train, keeping the best dev epoch's weights; callbacks asked for by whoever started the job
    (the Optuna sweeper's pruning) join in."""
    import pytorch_lightning as pl

    from blurb_lab.models.module import BestWeights, EvalTimer

    monitor = f"dev/{cfg.task.metric}"
    best, timer = BestWeights(monitor), EvalTimer()
    requested = requested_callbacks(monitor)  # none unless started by the Optuna sweeper with a pruner
    callbacks: list[Any] = [timer, best, *requested]
    if loggers:
        callbacks.append(pl.callbacks.LearningRateMonitor(logging_interval="step"))
    trainer = make_trainer(cfg, output_dir, loggers, callbacks)
    started = time.time()
    trainer.fit(prepared.module, datamodule=prepared.datamodule)
    fit_time = time.time() - started
    pruned = pruned_at(requested) if prepared.module.diverged_at is None else None
    return Fitted(trainer, best, pruned, fit_time, timer.seconds)


def best_test_score(fitted: Fitted, prepared: Prepared, metric: str) -> tuple[float, float]:
    """Restore the best dev epoch's weights and test them: (score, seconds); a pruned run is
    unfinished, so it gets no test score (NaN)."""
    fitted.best.restore(prepared.module)
    if fitted.pruned_at is not None:
        return math.nan, 0.0
    return _test(fitted.trainer, prepared.module, prepared.datamodule, metric)


def save_checkpoint(cfg: DictConfig, output_dir: Path, fitted: Fitted) -> None:
    """With trainer.save_checkpoint, the best dev epoch's weights as best.safetensors (rank 0)."""
    if cfg.trainer.save_checkpoint and fitted.best.state is not None and fitted.trainer.is_global_zero:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in fitted.best.state.items()}, str(output_dir / "best.safetensors"))


def write_test_predictions(output_dir: Path, prepared: Prepared, fitted: Fitted) -> None:
    """predictions_test.jsonl (rank 0) of a run that was tested, i.e. not pruned."""
    if fitted.trainer.is_global_zero and fitted.pruned_at is None:
        records, predictions = prepared.splits["test"], prepared.module.test_predictions
        write_predictions(output_dir / "predictions_test.jsonl", prepared.task_type, records, predictions)


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


def summarise_to_wandb(logger: Any, cfg: DictConfig, prepared: Prepared, fitted: Fitted, outcome: Outcome) -> None:
    """The run's summary in W&B: best dev and test score, status and the reference scores."""
    summary = logger.experiment.summary
    summary[f"best_dev/{cfg.task.metric}"] = fitted.best.best_score
    summary[f"test/{cfg.task.metric}"] = outcome.test_score if math.isfinite(outcome.test_score) else None
    summary["status"] = outcome.status
    for name, value in prepared.references.items():
        summary[f"reference/{name}"] = value


def job_results(
    cfg: DictConfig,
    prepared: Prepared,
    fitted: Fitted,
    outcome: Outcome,
    hparams: dict[str, Any],
    key: str,
    label: str,
    started: float,
) -> dict[str, Any]:
    """What results.json holds."""
    task_type, module, datamodule, plan = prepared.task_type, prepared.module, prepared.datamodule, prepared.plan
    best, test_score = fitted.best, outcome.test_score
    return {
        "status": outcome.status,
        "task": cfg.task.name,
        "model": cfg.model.name,
        "strategy": cfg.strategy.name,
        "strategy_applied": prepared.strategy_applied,
        "seed": cfg.seed,
        "seed_init": cfg.seed_init,
        "seed_data": cfg.seed_data,
        "seed_dropout": cfg.seed_dropout,
        "metric": cfg.task.metric,
        **prepared.references,
        "pooling": cfg.model.pooling if task_type.sequence_level else None,
        "pair_encoding": cfg.task.pair_encoding if cfg.task.type == "sentence_pair_regression" else None,
        "recipe": applied_recipe(cfg),
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
        "config_key": key,
        "config_label": label,
        "hparams": hparams,
        "n_train_examples": len(datamodule.features["train"]),
        "n_train_tokens": sum(len(f["input_ids"]) for f in datamodule.features["train"]),
        "fit_time_s": round(fitted.fit_time, 3),
        "test_time_s": round(outcome.test_time, 3),
        "val_time_s": round(fitted.val_time, 3),  # dev evaluations, part of fit_time_s
        "eval_time_s": round(fitted.val_time + outcome.test_time, 3),  # dev evaluations + the test pass
        "wall_time_s": round(time.time() - started, 3),
        "versions": versions(),
    }


def _test(trainer: Any, module: Any, datamodule: Any, metric: str) -> tuple[float, float]:
    """(test score at the restored best-dev weights, seconds it took)."""
    started = time.time()
    test_metrics = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    return float(test_metrics[f"test/{metric}"]), time.time() - started


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


def write_results(output_dir: Path, results: dict[str, Any]) -> None:
    """Every results.json (finished, crashed, or rank 0 of a spawned job) says what code made it."""
    write_json(output_dir / RESULTS_FILE, {**results, "provenance": provenance()})
