"""Scores a fine-tuned run must beat to mean anything: the trivial predictor (majority class,
constant, all-O) and, for sentence-pair similarity, the untrained encoder's zero-shot cosine.

A run at or below these learned nothing the model did not already know; the summary shows them
beside every score.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from blurb_lab.cache import cached, code_digest, fingerprint
from blurb_lab.data.datamodule import records_fingerprint
from blurb_lab.models.pooling import Pooling

log = logging.getLogger(__name__)
EVAL_SPLITS = ("dev", "test")


def trivial_scores(task_type: Any, splits: dict[str, list[dict[str, Any]]], cache_dir: str) -> dict[str, float]:
    """The trivial predictor fitted on train, scored on dev and test; cached, since every seed asks."""
    from omegaconf import OmegaConf

    key = fingerprint(
        type(task_type).__name__,
        OmegaConf.to_container(task_type.cfg, resolve=True),
        {s: records_fingerprint(splits[s]) for s in ("train", *EVAL_SPLITS)},
        code_digest("references.py", "tasks", "metrics"),
    )

    def build() -> dict[str, float]:
        return {f"trivial_{s}_score": task_type.trivial_score(splits["train"], splits[s]) for s in EVAL_SPLITS}

    return cached(cache_dir, f"{task_type.cfg.name}-trivial", key, build, what="trivial predictor")


def has_zero_shot(model_cfg: Any, task_type: Any) -> bool:
    """Zero-shot cosine is defined for sentence-pair similarity with a pretrained encoder."""
    return task_type.cfg.type == "sentence_pair_regression" and model_cfg.source != "random"


def zero_shot_scores(
    model_cfg: Any,
    task_type: Any,
    splits: dict[str, list[dict[str, Any]]],
    encoder: Any,
    tokenizer: Any,
    cache_dir: str,
) -> dict[str, float | None]:
    """Pearson of the cosine between the two sentences' pooled vectors, with no training at all.

    Computed once per (task, model, pooling, data) and cached, since every seed of a sweep asks.
    `encoder` must be the pristine pretrained one (before any strategy touches it).
    """
    if not has_zero_shot(model_cfg, task_type):
        return {f"zero_shot_{s}_score": None for s in EVAL_SPLITS}
    key = fingerprint(
        task_type.cfg.name,
        list(task_type.cfg.text_fields),
        model_cfg.source,
        model_cfg.path,
        model_cfg.pooling,
        task_type.cfg.max_len,
        {s: records_fingerprint(splits[s]) for s in EVAL_SPLITS},
    )

    def build() -> dict[str, float]:
        log.info("zero-shot cosine of the untrained %s on %s", model_cfg.name, task_type.cfg.name)
        pool = Pooling(model_cfg.pooling, encoder.config.hidden_size, own_pooler=False)
        if model_cfg.pooling == "pooler" and getattr(encoder, "pooler", None) is None:
            return {}
        out = {}
        for split in EVAL_SPLITS:
            records = splits[split]
            cosines = _cosines(encoder, tokenizer, pool, records, task_type.cfg.text_fields, task_type.cfg.max_len)
            out[f"zero_shot_{split}_score"] = task_type.score(cosines, [task_type.gold(r) for r in records])
        return out

    scores = cached(cache_dir, f"{task_type.cfg.name}-zero-shot", key, build, what="zero-shot")
    return {f"zero_shot_{s}_score": scores.get(f"zero_shot_{s}_score") for s in EVAL_SPLITS}


@torch.no_grad()
def _cosines(
    encoder: Any, tokenizer: Any, pool: Pooling, records: list[dict[str, Any]], fields: list[str], max_len: int
) -> list[float]:
    was_training = encoder.training
    encoder.eval()  # no dropout: the untrained model's own answer
    vectors = []
    try:
        for field in fields:
            parts = []
            for start in range(0, len(records), 64):
                texts = [r[field] for r in records[start : start + 64]]
                enc = tokenizer(texts, truncation=True, max_length=max_len, padding=True, return_tensors="pt")
                outputs = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
                parts.append(pool(outputs, enc["attention_mask"]))
            vectors.append(torch.cat(parts))
    finally:
        encoder.train(was_training)
    return torch.nn.functional.cosine_similarity(vectors[0], vectors[1], dim=-1).tolist()
