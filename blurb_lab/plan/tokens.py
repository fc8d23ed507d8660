"""A job's tokens, counted on the real data the way the job will see it: the same splits
(data.limit_train_examples, data.cv_folds and the seed's fold), the same tokenizer and max_len, the
same features (long NER sentences cut into windows). The features come from the job's own
BlurbDataModule, so the count reuses the tokenisation cache under data.cache_dir and leaves it warm
for the sweep."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab.cache import fingerprint

# What counts a hub model's tokens when its tokenizer cannot be downloaded: another uncased
# WordPiece vocabulary of the same size, so the count is an estimate (and the plan says so).
PROXY_MODEL = "minilm"


@dataclass(frozen=True)
class SplitTokens:
    """One pass over a split's features."""

    examples: int  # features (a long sentence's windows count one each)
    tokens: int  # non-pad tokens (both sequences of a bi-encoded pair)
    square_tokens: int  # sum of each sequence's length squared: what attention costs
    longest: int  # the longest sequence: the batch that peaks in memory

    @classmethod
    def of(cls, features: list[dict[str, Any]]) -> SplitTokens:
        lengths = [len(ids) for f in features for key, ids in f.items() if key.startswith("input_ids")]
        return cls(len(features), sum(lengths), sum(n * n for n in lengths), max(lengths, default=0))


@dataclass(frozen=True)
class TokenCounts:
    """A job's splits as its data module tokenises them, and the size of its test predictions."""

    train: SplitTokens
    dev: SplitTokens
    test: SplitTokens
    predictions_bytes: int  # predictions_test.jsonl, one prediction shaped like each gold label
    tokenizer: str  # the model whose tokenizer counted them


def count_key(cfg: DictConfig) -> str:
    """Jobs with this key train on the same tokens: same tokenizer, task, data and (under
    cross-validation) the same fold; seeds, strategies and optimiser values do not matter."""
    source, _ = tokenizer_source(cfg.model)
    model = {k: source.get(k) for k in ("source", "path", "package_subdir")} | {"pair_head": cfg.model.get("pair_head")}
    if cfg.model.source == "random":
        model["random"] = OmegaConf.to_container(cfg.model.random, resolve=True)
    data = {k: cfg.data.get(k) for k in ("source", "root", "limit_train_examples", "cv_folds")}
    fold = int(cfg.seed) if cfg.data.get("cv_folds") else None
    return fingerprint(model, OmegaConf.to_container(cfg.task, resolve=True), data, fold)


_SOURCES: dict[str, tuple[Any, str]] = {}


def tokenizer_source(model: Any) -> tuple[Any, str]:
    """(the model config whose tokenizer counts, whose): the model's own, or for a hub model whose
    tokenizer is not in the local Hugging Face cache the proxy's. A plan never downloads: a hub
    lookup would wait through the hub client's retries where there is no network."""
    if model.source != "hub":
        return model, str(model.name)
    if model.path not in _SOURCES:
        from transformers import AutoTokenizer

        try:
            AutoTokenizer.from_pretrained(model.path, local_files_only=True)
            _SOURCES[model.path] = (model, str(model.name))
        except OSError:
            from blurb_lab.config.compose import CONFIG_DIR

            proxy = OmegaConf.load(Path(CONFIG_DIR) / "model" / f"{PROXY_MODEL}.yaml")
            _SOURCES[model.path] = (proxy, f"{PROXY_MODEL} (proxy: {model.path} not in the Hugging Face cache)")
    return _SOURCES[model.path]


def load_plan_tokenizer(model: Any, train_texts: list[str]) -> tuple[Any, str]:
    """(tokenizer, whose): tokenizer_source's."""
    from blurb_lab.models.loading import load_tokenizer

    source, whose = tokenizer_source(model)
    return load_tokenizer(source, train_texts), whose


def count_tokens(cfg: DictConfig) -> TokenCounts:
    """Read and check the job's splits and count their tokens as its data module gives them."""
    from blurb_lab.data.checks import check_splits
    from blurb_lab.data.readers import load_splits
    from blurb_lab.models.loading import add_entity_markers
    from blurb_lab.tasks import get_task_type
    from blurb_lab.train import make_datamodule

    task_type = get_task_type(cfg.task, cfg.model.pair_head)
    splits = load_splits(cfg)
    check_splits(task_type, splits)
    tokenizer, whose = load_plan_tokenizer(cfg.model, task_type.texts(splits["train"]))
    add_entity_markers(tokenizer, list(cfg.task.entity_markers))
    features = make_datamodule(cfg, task_type, splits, tokenizer).features
    label = str(cfg.task.label_field)
    predictions = sum(
        len(json.dumps({"id": r.get("id"), "prediction": r.get(label)}, default=str)) + 1 for r in splits["test"]
    )
    train, dev, test = (SplitTokens.of(features[split]) for split in ("train", "dev", "test"))
    return TokenCounts(train, dev, test, predictions, whose)
