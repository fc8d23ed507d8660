"""One job: config -> data -> model + strategy -> fit -> test at the best dev epoch -> results.json."""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab import tracking
from blurb_lab.callbacks import pruned_at, requested_callbacks
from blurb_lab.config.batch import batch_split
from blurb_lab.config.resolvers import applied_recipe, value_sources
from blurb_lab.config.validate import validate
from blurb_lab.console import epoch_bar, rank_logging
from blurb_lab.data.check_cache import passed_before
from blurb_lab.data.checks import check_splits
from blurb_lab.data.readers import load_splits
from blurb_lab.distributed import is_rank_zero
from blurb_lab.identity import configuration_key, configuration_label
from blurb_lab.job_record import Fitted, Outcome, Prepared, job_results, judge
from blurb_lab.results import RESULTS_FILE, prefetch_provenance, scrub_secrets, write_json, write_jsonl, write_results

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
    from transformers.utils import logging as transformers_logging

    # transformers' own messages (e.g. how resized embeddings are initialised) go where the job's log
    # records go (its job dir), not to the console through transformers' own stderr handler.
    transformers_logging.disable_default_handler()
    transformers_logging.enable_propagation()
    if not epoch_bar(True):  # transformers' "Loading weights" bar: only where Lightning's may show (console.py)
        transformers_logging.disable_progress_bar()


def write_predictions(path: Path, task_type: Any, records: list[dict[str, Any]], predictions: list[Any]) -> None:
    """One line per gold record, in gold order: the format `python -m blurb_lab.evaluate` scores."""
    rows = ({"id": r.get("id"), "prediction": task_type.to_json(p)} for r, p in zip(records, predictions, strict=True))
    write_jsonl(path, rows)


def run_job(cfg: DictConfig, output_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """Train and evaluate one (model, task, strategy, seed); return what results.json holds.

    With several devices on one machine, the ranks are spawned here and each runs `_run_rank`;
    rank 0 writes results.json, which this process then reads back.
    """
    from blurb_lab.config.batch import ranks
    from blurb_lab.distributed import spawn_ranks, wants_spawn

    validate(cfg)  # fail before anything starts (a download, a rank process)
    # Read while the config shows what the recipe supplied: ranks get it resolved.
    recipe = {"recipe": applied_recipe(cfg), "value_sources": value_sources(cfg)}
    if not wants_spawn(cfg.trainer):
        return _run(cfg, output_dir, overrides, recipe)
    resolved = OmegaConf.to_container(cfg, resolve=True)  # ${hydra:...} cannot resolve in the ranks
    results_path = output_dir / RESULTS_FILE
    results_path.unlink(missing_ok=True)
    log_file = next((h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)), None)
    spawn_ranks(ranks(cfg.trainer.devices), _run_rank, resolved, str(output_dir), overrides, recipe, log_file)
    return json.loads(results_path.read_text())


def _run_rank(
    resolved: dict[str, Any], output_dir: str, overrides: list[str], recipe: dict[str, Any], log_file: str | None
) -> None:
    rank_logging(log_file)  # a fresh process: into the job's log file, as the job's own lines
    results = _run(OmegaConf.create(resolved), Path(output_dir), overrides, recipe)
    if is_rank_zero() and results.get("status") != "inspected":
        write_results(Path(output_dir), results)
    tracking.finish(0)


def loader_workers(configured: int) -> int:
    """Data-loader worker processes: collate is cheap, so only machines with cores to spare get any."""
    if configured >= 0:
        return configured
    import os

    return min(4, (os.cpu_count() or 1) // 4)


def prepare(cfg: DictConfig) -> Prepared:
    """Read and check the data, tokenise (cached), build the encoder and head, apply the strategy.
    The steps keep their order: each draws its random numbers from the stream seed_init starts."""
    import pytorch_lightning as pl
    import torch

    from blurb_lab.models.loading import add_entity_markers, load_tokenizer
    from blurb_lab.models.module import FineTuner
    from blurb_lab.references import trivial_scores, zero_shot_scores
    from blurb_lab.tasks import get_task_type

    task_type = get_task_type(cfg.task, cfg.model.pair_head)
    splits = load_splits(cfg)
    if not passed_before(cfg):  # the preflight's check, recorded by file content, covers these files
        check_splits(task_type, splits)  # shape and values (finite, in range, unique ids, no empty text)

    pl.seed_everything(cfg.seed_init, workers=True, verbose=False)  # new weights: head, re-init, random encoders
    tokenizer = load_tokenizer(cfg.model, task_type.texts(splits["train"]))
    added_tokens = add_entity_markers(tokenizer, list(cfg.task.entity_markers))
    datamodule = make_datamodule(cfg, task_type, splits, tokenizer)
    encoder, initialised = load_sized_encoder(cfg.model, len(tokenizer))
    references = trivial_scores(task_type, splits, cfg.data.cache_dir)
    references.update(zero_shot_scores(cfg.model, task_type, splits, encoder, tokenizer, cfg.data.cache_dir))
    head, own_pooler = make_head(cfg.model, task_type, splits["train"], encoder)
    applied, plan = plan_strategy(cfg, encoder, head, own_pooler)
    pad_id = tokenizer.pad_token_id
    task_type.init_head(encoder, head, datamodule.features, pad_id if pad_id is not None else 0, cfg.data.cache_dir)
    module = FineTuner(encoder, head, task_type, plan.param_groups, cfg.optim)
    torch.manual_seed(cfg.seed_dropout)  # from here on the global stream only draws dropout masks
    if cfg.trainer.compile:
        module.encoder = torch.compile(module.encoder)  # same parameters, so the optimizer groups still hold
    return Prepared(task_type, splits, datamodule, module, plan, applied, added_tokens, initialised, references)


def make_datamodule(cfg: DictConfig, task_type: Any, splits: dict[str, list[dict[str, Any]]], tokenizer: Any) -> Any:
    """The BlurbDataModule of the splits, set up: every split tokenised (cached) into features."""
    from blurb_lab.data.datamodule import BlurbDataModule

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
        accumulation=batch_split(cfg.data, cfg.trainer).accumulation,
    )
    datamodule.setup()
    return datamodule


def load_sized_encoder(model_cfg: Any, vocab_size: int) -> tuple[Any, list[str]]:
    """(encoder in train mode with room for every token of the tokenizer, its newly initialised
    weights); a pooler the model needs but lacks ends the job (check_pooler)."""
    from blurb_lab.models.loading import check_pooler, load_encoder

    encoder, initialised = load_encoder(model_cfg, vocab_size)
    encoder.train()  # from_pretrained returns eval mode, and Lightning keeps each module's mode
    if vocab_size > encoder.get_input_embeddings().num_embeddings:
        encoder.resize_token_embeddings(vocab_size)
    check_pooler(model_cfg, encoder, initialised)
    return encoder, initialised


def make_head(model_cfg: Any, task_type: Any, train: list[dict[str, Any]], encoder: Any) -> tuple[Any, bool]:
    """(the task's head fitted on train, whether it has a pooler of its own): the encoder's pooler
    is dropped when model.pooling does not read it, and a head that reads a pooler the encoder
    lacks gets its own."""
    from blurb_lab.models.pooling import reads_encoder_pooler

    pooling = model_cfg.pooling
    if getattr(encoder, "pooler", None) is not None and not reads_encoder_pooler(pooling, task_type.sequence_level):
        encoder.pooler = None
    init_std = getattr(encoder.config, "initializer_range", 0.02)
    own_pooler = reads_encoder_pooler(pooling, task_type.sequence_level) and getattr(encoder, "pooler", None) is None
    task_type.fit(train)
    head = task_type.build_head(encoder.config.hidden_size, model_cfg.dropout, pooling, own_pooler, init_std)
    return head, own_pooler


def plan_strategy(cfg: DictConfig, encoder: Any, head: Any, own_pooler: bool) -> tuple[str, Any]:
    """(the strategy applied, `auto` resolved to what it chose; its plan: frozen and re-initialised
    weights, optimizer groups)."""
    from blurb_lab.strategies import apply_strategy, resolve_auto

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
    return applied, plan


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
        accumulate_grad_batches=batch_split(cfg.data, cfg.trainer).accumulation,
        deterministic=cfg.trainer.deterministic,
        logger=loggers or False,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=epoch_bar(cfg.trainer.enable_progress_bar),  # a lone job in a terminal only
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        default_root_dir=str(output_dir),
    )


def _run(cfg: DictConfig, output_dir: Path, overrides: list[str], recipe: dict[str, Any]) -> dict[str, Any]:
    """One job's data flow (cfg validated): prepare, fit, test at the best dev epoch, then write what
    the run leaves; `recipe` is for results.json (applied_recipe and value_sources)."""
    started = time.time()
    quiet_library_noise()
    prepared = prepare(cfg)
    if is_rank_zero():
        table = prepared.plan.format_table()
        log.info("optimizer groups:\n%s", table)  # the job's log; inspect=true shows it on the console too
        if cfg.inspect:
            print(table)
    if cfg.inspect:
        return _inspect(output_dir, prepared)
    hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=True))
    key, label = configuration_key(hparams), configuration_label(cfg, overrides)
    loggers = make_loggers(cfg, output_dir, label, key, hparams)
    prefetch_provenance()
    fitted = fit(cfg, output_dir, prepared, loggers)
    test_score, test_time = best_test_score(fitted, prepared, cfg.task.metric)
    save_checkpoint(cfg, output_dir, fitted)
    write_test_predictions(output_dir, prepared, fitted)
    outcome = judge(prepared, fitted, test_score, test_time)
    if cfg.logger.wandb and is_rank_zero():
        summarise_to_wandb(loggers[-1], cfg, prepared, fitted, outcome)
    return job_results(cfg, prepared, fitted, outcome, hparams, overrides, recipe, started)


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


def fit(cfg: DictConfig, output_dir: Path, prepared: Prepared, loggers: list[Any]) -> Fitted:
    """Train, keeping the best dev epoch's weights; callbacks asked for by whoever started the job
    (the Optuna sweeper's pruning) join in."""
    import pytorch_lightning as pl

    from blurb_lab.checkpoint import EpochCheckpoint, resume_from
    from blurb_lab.models.module import BestWeights, EvalTimer

    monitor = f"dev/{cfg.task.metric}"
    best, timer = BestWeights(monitor), EvalTimer()
    requested = requested_callbacks(monitor)  # none unless started by the Optuna sweeper with a pruner
    callbacks: list[Any] = [timer, best, *requested, EpochCheckpoint(output_dir, cfg.trainer.checkpoint_interval_s)]
    if loggers:
        callbacks.append(pl.callbacks.LearningRateMonitor(logging_interval="step"))
    trainer = make_trainer(cfg, output_dir, loggers, callbacks)
    started = time.time()
    trainer.fit(prepared.module, datamodule=prepared.datamodule, ckpt_path=resume_from(output_dir, cfg.resume))
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


def summarise_to_wandb(logger: Any, cfg: DictConfig, prepared: Prepared, fitted: Fitted, outcome: Outcome) -> None:
    """The run's summary in W&B: best dev and test score, status and the reference scores."""
    summary = logger.experiment.summary
    summary[f"best_dev/{cfg.task.metric}"] = fitted.best.best_score
    summary[f"test/{cfg.task.metric}"] = outcome.test_score if math.isfinite(outcome.test_score) else None
    summary["status"] = outcome.status
    for name, value in prepared.references.items():
        summary[f"reference/{name}"] = value


def _test(trainer: Any, module: Any, datamodule: Any, metric: str) -> tuple[float, float]:
    """(test score at the restored best-dev weights, seconds it took)."""
    started = time.time()
    test_metrics = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    return float(test_metrics[f"test/{metric}"]), time.time() - started
