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
from blurb_lab.config.resolvers import applied_recipe
from blurb_lab.config.validate import validate
from blurb_lab.data.cache import fingerprint
from blurb_lab.data.checks import check_splits
from blurb_lab.data.readers import SPLITS, read_hub_splits, read_local_splits
from blurb_lab.distributed import is_rank_zero
from blurb_lab.errors import ConfigError
from blurb_lab.results import RESULTS_FILE, scrub_secrets, versions, write_json, write_jsonl

log = logging.getLogger(__name__)
# Keys that name where things go or how a launcher placed the job (its device slot, its CPU threads),
# not what is computed: left out of a configuration's identity. Node ranks come from the environment
# (torchrun, SLURM) and never enter the config.
NOT_IDENTITY = (
    "seed",
    "seed_init",
    "seed_data",
    "seed_dropout",
    "resume",
    "paths",
    "logger",
    "report",
    "data.root",
    "data.cache_dir",
    "data.num_workers",
    "trainer.enable_progress_bar",
    "trainer.num_threads",
    "trainer.device_slot",
)


def identity(hparams: dict[str, Any]) -> dict[str, Any]:
    """The part of resolved hparams that defines a configuration: NOT_IDENTITY keys dropped, and a
    list of device ids reduced to its length (which GPU ran a job is not what it computed)."""
    import copy

    reduced = copy.deepcopy(hparams)
    for dotted in NOT_IDENTITY:
        *parents, leaf = dotted.split(".")
        node = reduced
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    trainer = reduced.get("trainer", {})
    if isinstance(trainer.get("devices"), list):
        trainer["devices"] = len(trainer["devices"])
    return reduced


def configuration_key(hparams: dict[str, Any]) -> str:
    """Identity of a configuration without its seed: jobs with equal keys are seeds of one config."""
    return fingerprint(identity(hparams))


def first_difference(old: Any, new: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    """(dotted key, old value, new value) of the first place two nested dicts differ, else None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            found = first_difference(old.get(key), new.get(key), f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    return None if old == new else (prefix.rstrip("."), old, new)


def configuration_label(cfg: DictConfig, overrides: list[str]) -> str:
    """A readable id: model/task/strategy plus the non-seed overrides that set other keys."""
    base = f"{cfg.model.name}/{cfg.task.name}/{cfg.strategy.name}"
    skip = ("model=", "task=", "strategy=", "experiment=", "hparams_search=", *NOT_IDENTITY)
    extra = sorted(o for o in overrides if not o.lstrip("+~").startswith(skip))
    return scrub_secrets(" ".join([base, *extra]))  # Hydra hands overrides over resolved


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


def load_splits(cfg: DictConfig, splits: tuple[str, ...] = SPLITS) -> dict[str, list[dict[str, Any]]]:
    """The task's splits; with data.limit_train_examples, only the first N training records (dev
    and test stay whole, so scores remain comparable)."""
    if cfg.data.source == "hub":
        hub = cfg.task.hub
        if not hub.path:
            raise ConfigError("task.hub.path", f"no hub dataset id for {cfg.task.name}; set task.hub.path=<id>")
        out = read_hub_splits(hub.path, hub.name, dict(hub.columns), dict(hub.splits), splits)
    else:
        out = read_local_splits(cfg.data.root, cfg.task.name, cfg.task.dir, cfg.task.format, splits)
    limit = cfg.data.limit_train_examples
    if limit is not None and "train" in out:
        out["train"] = out["train"][:limit]
    return out


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

    task_type = get_task_type(cfg.task)
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
    import pytorch_lightning as pl

    from blurb_lab.models.module import BestWeights
    from hydra_plugins.blurb_optuna_sweeper.reporting import pruning_callback

    started = time.time()
    quiet_library_noise()
    validate(cfg)
    prepared = prepare(cfg)
    task_type, splits, module, plan = prepared.task_type, prepared.splits, prepared.module, prepared.plan
    applied, added_tokens, datamodule = prepared.strategy_applied, prepared.added_tokens, prepared.datamodule
    if is_rank_zero():
        print(plan.format_table())
    if cfg.inspect:
        if is_rank_zero():
            write_json(output_dir / "param_groups.json", {"strategy_applied": applied, **plan.to_json()})
        return {"status": "inspected", "strategy_applied": applied}

    monitor = f"dev/{cfg.task.metric}"
    best = BestWeights(monitor)
    hparams = scrub_secrets(OmegaConf.to_container(cfg, resolve=True))
    key, label = configuration_key(hparams), configuration_label(cfg, overrides)
    loggers: list[Any] = []
    if cfg.logger.csv:
        loggers.append(pl.loggers.CSVLogger(save_dir=str(output_dir), name="csv", version=""))
    if cfg.logger.wandb and is_rank_zero():
        loggers.append(tracking.wandb_logger(cfg, output_dir, label, key, hparams))
    callbacks: list[Any] = [best]
    pruning = pruning_callback(monitor)  # None unless started by the Optuna sweeper with a pruner
    if pruning is not None:
        callbacks.append(pruning)
    if loggers:
        callbacks.append(pl.callbacks.LearningRateMonitor(logging_interval="step"))
    trainer = make_trainer(cfg, output_dir, loggers, callbacks)
    fit_started = time.time()
    trainer.fit(module, datamodule=datamodule)
    fit_time = time.time() - fit_started
    pruned_at = getattr(pruning, "pruned_at", None) if module.diverged_at is None else None

    best.restore(module)
    test_score, test_time = math.nan, 0.0
    if pruned_at is None:  # a pruned run is unfinished: it gets no test score
        test_score, test_time = _test(trainer, module, datamodule, cfg.task.metric)
    if cfg.trainer.save_checkpoint and best.state is not None and trainer.is_global_zero:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in best.state.items()}, str(output_dir / "best.safetensors"))

    if trainer.is_global_zero and pruned_at is None:
        write_predictions(output_dir / "predictions_test.jsonl", task_type, splits["test"], module.test_predictions)
    trivial = prepared.references["trivial_dev_score"]
    trivial_loss = task_type.trivial_loss(splits["train"])
    final_loss = module.train_loss_curve[-1] if module.train_loss_curve else None
    failed = task_type.is_failed(best.best_score, trivial)
    status, failure = run_status(module.diverged_at, failed, final_loss, trivial_loss)
    if pruned_at is not None:
        status, failure = "pruned", None
    if cfg.logger.wandb and is_rank_zero():
        summary = loggers[-1].experiment.summary
        summary[f"best_dev/{cfg.task.metric}"] = best.best_score
        summary[f"test/{cfg.task.metric}"] = test_score if math.isfinite(test_score) else None
        summary["status"] = status
        for name, value in prepared.references.items():
            summary[f"reference/{name}"] = value
    return {
        "status": status,
        "task": cfg.task.name,
        "model": cfg.model.name,
        "strategy": cfg.strategy.name,
        "strategy_applied": applied,
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
        "pruned_at_epoch": pruned_at,
        "dev_curve": module.dev_curve,
        "diverged_at_step": module.diverged_at,
        "failure_kind": failure,
        "final_train_loss": final_loss,
        "trivial_train_loss": trivial_loss,
        "train_loss_curve": module.train_loss_curve,
        "epochs": trainer.current_epoch,
        "added_special_tokens": added_tokens,
        "n_trainable_params": plan.n_trainable,
        "n_frozen_params": plan.n_frozen,
        "config_key": key,
        "config_label": label,
        "hparams": hparams,
        "n_train_examples": len(datamodule.features["train"]),
        "n_train_tokens": sum(len(f["input_ids"]) for f in datamodule.features["train"]),
        "fit_time_s": round(fit_time, 3),
        "test_time_s": round(test_time, 3),
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
    write_json(output_dir / RESULTS_FILE, results)
