"""Structured config schema: the public API of blurb_lab, typed so Hydra rejects wrong types and
unknown keys while composing, before anything heavy happens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class RandomInitConfig:
    """Shape of a randomly initialised encoder (tests and smoke runs)."""

    hidden_size: int = 32
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 64
    max_position_embeddings: int = 512
    vocab_size: int = 1000  # WordPiece vocabulary trained on the task's training text


@dataclass
class ModelShapeConfig:
    """The checkpoint's shape, copied from its config.json into the model's YAML, so that a hub
    model's depth is known before anything downloads (preflight's block counts, `blurb-lab plan`).
    null: not declared (a local folder's config.json is read instead)."""

    num_layers: int | None = None
    hidden_size: int | None = None
    num_heads: int | None = None
    intermediate_size: int | None = None
    vocab_size: int | None = None
    max_positions: int | None = None
    num_parameters: int | None = None  # the encoder's: embeddings + blocks (+ pooler for BERT)


@dataclass
class RecipeConfig:
    """One of a model's own fine-tuning recipes. The first entry of `model.recipes` whose match
    fields fit the task applies; each value replaces the task's BLURB default unless the user sets
    optim.lr, data.batch_size or trainer.max_epochs. A null value keeps the task's, a null or empty
    match field matches any task. `chosen_by` says where the values come from (provenance)."""

    task: str | None = None  # a task name
    task_types: list[str] = field(default_factory=list)  # task.type values
    pair_encoding: str | None = None  # cross | bi
    pair_head: str | None = None  # linear | cosine (model.pair_head)
    lr: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    chosen_by: str = ""


@dataclass
class ModelConfig:
    name: str = "minilm"
    source: str = "package"  # hub | local | package | random
    path: str = ""  # hub id, local folder, or importable package name
    package_subdir: str = "model"  # folder inside the package that holds the HF files
    family: str = "bert"  # bert | electra | roberta
    size: str = "base"  # small | base | large (the `auto` strategy reads it)
    dropout: float = 0.1
    pooling: str = "cls"  # pooler | cls | mean: how sequence-level heads read the encoder
    pair_head: str = "linear"  # cross-encoded similarity: linear (BLURB) | cosine (per-sentence mean pools)
    recipes: list[RecipeConfig] = field(default_factory=list)
    random: RandomInitConfig = field(default_factory=RandomInitConfig)
    shape: ModelShapeConfig = field(default_factory=ModelShapeConfig)


@dataclass
class HubDataConfig:
    """Where a task lives on the Hugging Face hub, and how its columns map to ours."""

    path: str = ""
    name: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # ours -> theirs
    splits: dict[str, str] = field(default_factory=dict)  # ours -> theirs


@dataclass
class TaskConfig:
    name: str = "biosses"
    type: str = "sentence_pair_regression"
    metric: str = "pearson"
    dir: str = ""  # folder under data.root; defaults to the task name
    text_fields: list[str] = field(default_factory=lambda: ["sentence1", "sentence2"])
    label_field: str = "label"
    labels: list[str] | None = None
    negative_label: str | None = None  # never a true positive (ChemProt "false", DDI/GAD "0")
    strict_iob2: bool = False  # entity F1: an I after O starts no entity (default: conlleval/seqeval)
    threshold: float = 0.5  # multi-label: a label is predicted when its sigmoid reaches this
    entity_markers: list[str] = field(default_factory=list)  # kept whole, e.g. @GENE$
    format: str = "jsonl"  # jsonl | conll (token<TAB>tag lines, blank line between sentences)
    max_len: int = 128
    label_range: list[float] | None = None  # regression: [low, high] every gold label must lie in
    target_scaling: str = "standardize"  # regression: standardize (z-scores of train labels) | none
    pair_encoding: str = "cross"  # similarity: cross ([CLS] a [SEP] b [SEP], BLURB) | bi (cosine)
    # BLURB protocol defaults for this task; optim/data/trainer interpolate them.
    lr: float = 3e-5
    batch_size: int = 16
    epochs: int = 10
    n_seeds: int = 5
    hub: HubDataConfig = field(default_factory=HubDataConfig)


@dataclass
class StrategyConfig:
    """A strategy is configuration over three mechanisms that compose in one run."""

    name: str = "standard"
    freeze_lower_layers: int = 0  # embeddings + bottom k blocks frozen; 0 = nothing frozen
    freeze_embeddings: bool = False  # freeze the embeddings even when freeze_lower_layers is 0
    layer_decay: float = 1.0  # xi in (0, 1]; 1.0 = no decay
    reinit_top_layers: int = 0
    reinit_pooler: bool = False
    auto: bool = False  # choose the mechanisms from the study's findings (strategy=auto)


@dataclass
class OptimConfig:
    lr: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    adam_eps: float = 1e-8
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    gradient_clip_val: float = 1.0


@dataclass
class DataConfig:
    source: str = "local"  # local | hub
    root: str = "data/blurb"
    batch_size: int = 16  # the global batch of one optimizer step, whatever the hardware
    max_device_batch: int | None = None  # cap per forward; the accumulation follows from it
    eval_batch_size: int = 64
    num_workers: int = -1  # -1: chosen from the core count (0 on small machines)
    group_by_length: bool = True  # length-grouped training batches (seeded), less padding
    sort_eval_by_length: bool = True  # dev/test batches of length-sorted examples; results unchanged
    limit_train_examples: int | None = None  # train on the first N records only (CPU-sized runs)
    cv_folds: int | None = None  # k: train + dev re-split into k folds, dev = fold (seed-1) mod k
    cache_dir: str = ".cache/blurb_lab"


@dataclass
class TrainerConfig:
    accelerator: str = "cpu"  # cpu | gpu | auto
    devices: Any = 1
    strategy: str = "auto"  # auto | ddp (one job on several devices)
    num_nodes: int = 1  # multi-node DDP under SLURM or torchrun
    accumulate_grad_batches: int | None = None  # null: 1, or what data.max_device_batch needs
    num_threads: int = 0  # torch CPU threads per job; 0 = all cores, split between parallel jobs
    # Set by the parallel launcher, never by users: the job's slot, which picks its GPU(s) on GPU
    # trainers. Where a job ran is not what it computes, so it is no part of a configuration's identity.
    device_slot: int | None = None
    precision: str = "32-true"
    checkpoint_interval_s: float = 300.0  # resume checkpoint at an epoch end this often; 0: every epoch
    max_epochs: int = 10
    limit_train_batches: float = 1.0  # fraction (<= 1.0) or number of batches per epoch, for smoke runs
    log_every_n_steps: int = 10
    enable_progress_bar: bool = True
    deterministic: bool = True
    compile: bool = False  # torch.compile the encoder (worth it on GPUs for long runs)
    save_checkpoint: bool = False  # also write the best-dev weights as best.safetensors


@dataclass
class LoggerConfig:
    csv: bool = False
    wandb: bool = False
    wandb_project: str = "blurb_lab"
    wandb_entity: str | None = None
    wandb_mode: str = "offline"  # offline | online | disabled
    wandb_init_timeout: float = 60.0  # seconds before an unreachable W&B server means offline


@dataclass
class PathsConfig:
    output_dir: str = "."


@dataclass
class ReportConfig:
    """End-of-sweep report; not part of a configuration's identity."""

    reference: str | None = None  # label or strategy every row is compared with (default: strategy=standard)
    aso: bool = True  # Almost Stochastic Order eps_min when deepsig is installed (about 3 s per comparison)


@dataclass
class StudyConfig:
    """The study's second stage: where the first stage's chosen recipes are (not identity: the values
    they set are)."""

    recipes: str | None = None


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    seed: int = 1
    seed_init: int = 1  # conf/config.yaml sets these three to ${seed}
    seed_data: int = 1
    seed_dropout: int = 1
    inspect: bool = False
    resume: bool = False  # in a re-run sweep dir, skip every job that ran to its end (all but crashed)


def register_configs() -> None:
    """Register the schema so conf/config.yaml can put it first in its defaults list."""
    ConfigStore.instance().store(name="config_schema", node=Config)
