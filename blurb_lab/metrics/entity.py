"""Scores over tag sequences: entity-level F1 for NER and word-level macro F1 for EBM PICO."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

from blurb_lab.metrics._counts import CountF1, f1_from_counts

Span = tuple[str, int, int]  # (entity type, first word, last word), both ends inclusive


def _parse(tag: str) -> tuple[str, str]:
    """`B-Gene` -> ("B", "Gene"); bare `B`/`I`/`O` get seqeval's placeholder type "_"."""
    if tag == "O":
        return "O", "_"
    prefix, rest = tag[:1], tag[1:]
    if prefix not in ("B", "I") or (rest and not rest.startswith("-")):
        raise ValueError(f"tag {tag!r} is not IOB2 (expected O, B, I, B-<type> or I-<type>)")
    return prefix, rest[1:] or "_"


def extract_entities(tags: Sequence[str], strict: bool = False) -> set[Span]:
    """The entities of one sentence's IOB2 tags.

    Default (conlleval, seqeval's default mode): an I after O or after a different type starts an
    entity, because that is how the published BLURB NER numbers were computed, so a model is not
    penalised twice for a wrong B. strict=True is seqeval's `mode="strict", scheme=IOB2`: only a B
    starts an entity, which then runs over the following I's of the same type; a stray I is ignored.
    """
    parsed = [_parse(tag) for tag in tags]
    spans: set[Span] = set()
    if strict:
        i = 0
        while i < len(parsed):
            prefix, kind = parsed[i]
            if prefix != "B":
                i += 1
                continue
            end = i + 1
            while end < len(parsed) and parsed[end] == ("I", kind):
                end += 1
            spans.add((kind, i, end - 1))
            i = end
        return spans
    prev_prefix, prev_kind, begin = "O", "_", 0
    for i, (prefix, kind) in enumerate([*parsed, ("O", "_")]):  # the trailing O closes an open entity
        if prev_prefix != "O" and (prefix != "I" or kind != prev_kind):
            spans.add((prev_kind, begin, i - 1))
        if prefix == "B" or (prefix == "I" and (prev_prefix == "O" or kind != prev_kind)):
            begin = i
        prev_prefix, prev_kind = prefix, kind
    return spans


def _check_pairs(preds: Sequence[Sequence[str]], target: Sequence[Sequence[str]]) -> None:
    if len(preds) != len(target):
        raise ValueError(f"got {len(preds)} predicted sentences but {len(target)} gold ones")
    for i, (pred, gold) in enumerate(zip(preds, target, strict=True)):
        if isinstance(pred, str) or isinstance(gold, str):
            raise ValueError("expected one list of tags per sentence, got a string")
        if len(pred) != len(gold):
            raise ValueError(f"sentence {i}: {len(pred)} predicted tags but {len(gold)} gold tags")


class EntityF1(CountF1):
    """Micro entity-level F1 over exact spans (type, start and end must all match), as seqeval.

    With no predicted and no gold entity at all the score is 0.0, which is what seqeval returns
    (with an UndefinedMetricWarning) in that case.
    """

    def __init__(self, strict: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.strict = strict

    def update(self, preds: Sequence[Sequence[str]], target: Sequence[Sequence[str]]) -> None:
        _check_pairs(preds, target)
        tp = n_pred = n_gold = 0
        for pred, gold in zip(preds, target, strict=True):
            pred_spans = extract_entities(pred, self.strict)
            gold_spans = extract_entities(gold, self.strict)
            tp += len(pred_spans & gold_spans)
            n_pred += len(pred_spans)
            n_gold += len(gold_spans)
        self._add(tp, n_pred, n_gold)


class TokenMacroF1(Metric):
    """Word-level F1 per class, averaged over the classes not in `ignore` (EBM PICO: P, I and O).

    Each word is one classification; the O class is left out of the average because it dominates
    the words and would hide the PICO classes. Tags outside the scored classes count only as misses.
    A class with no gold and no predicted word scores 0.0 and still enters the average (sklearn's
    `average="macro", zero_division=0`).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    tp: torch.Tensor
    fp: torch.Tensor
    fn: torch.Tensor

    def __init__(self, labels: Sequence[str], ignore: Sequence[str] = ("O",), **kwargs: object) -> None:
        super().__init__(**kwargs)
        skipped = set(ignore)
        self.classes = [label for label in labels if label not in skipped]
        if not self.classes:
            raise ValueError(f"no class left to score: labels {list(labels)}, ignore {list(ignore)}")
        self._index = {label: i for i, label in enumerate(self.classes)}
        zeros = torch.zeros(len(self.classes), dtype=torch.long)
        for name in ("tp", "fp", "fn"):
            self.add_state(name, default=zeros.clone(), dist_reduce_fx="sum")

    def update(self, preds: Sequence[Sequence[str]], target: Sequence[Sequence[str]]) -> None:
        _check_pairs(preds, target)
        n = len(self.classes)  # index n = "not a scored class"
        pred = torch.tensor([self._index.get(t, n) for row in preds for t in row], dtype=torch.long)
        gold = torch.tensor([self._index.get(t, n) for row in target for t in row], dtype=torch.long)
        hit = pred == gold
        self.tp += torch.bincount(pred[hit], minlength=n + 1)[:n].to(self.tp.device)
        self.fp += torch.bincount(pred[~hit], minlength=n + 1)[:n].to(self.fp.device)
        self.fn += torch.bincount(gold[~hit], minlength=n + 1)[:n].to(self.fn.device)

    def compute(self) -> torch.Tensor:
        return f1_from_counts(self.tp, self.tp + self.fp, self.tp + self.fn).mean()
