"""Token classification (BLURB NER and PICO): one tag per word, scored per word.

The first sub-word of a word carries its label; the others are ignored by the loss. A sentence
longer than max_len is cut into consecutive windows at word boundaries, never truncated, so every
gold word gets a prediction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from blurb_lab.tasks.base import Feature, TaskType, attention_mask, entropy, init_linear, pad
from blurb_lab.types import Record

if TYPE_CHECKING:  # torch inside the methods that make tensors: checking data needs none (base.py)
    import torch
    from torch import nn

IGNORE = -100


class TokenClassification(TaskType):
    sequence_level = False

    @property
    def tokens_field(self) -> str:
        return self.cfg.text_fields[0]

    def gold(self, record: Record) -> list[int]:
        tokens, tags = record.get(self.tokens_field), record.get(self.cfg.label_field)
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
            raise self.fail(record, f"field '{self.tokens_field}' must be a non-empty list of strings")
        if not isinstance(tags, list) or len(tags) != len(tokens):
            n_tags = len(tags) if isinstance(tags, list) else "no"
            raise self.fail(record, f"{len(tokens)} tokens but {n_tags} tags in '{self.cfg.label_field}'")
        return [self.label_id(record, tag) for tag in tags]

    def texts(self, records: list[Record]) -> list[str]:
        return [" ".join(r[self.tokens_field]) for r in records]

    def encode(self, records: list[Record], tokenizer: Any, max_len: int) -> dict[str, list]:
        words = [r[self.tokens_field] for r in records]
        enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        budget = max_len - 2
        out: dict[str, list] = {"input_ids": [], "word_starts": [], "record": [], "first_word": []}

        def emit(record: int, window: list[int], starts: list[int], first: int) -> None:
            out["input_ids"].append([tokenizer.cls_token_id, *window, tokenizer.sep_token_id])
            out["word_starts"].append(starts)
            out["record"].append(record)
            out["first_word"].append(first)

        for i, sentence in enumerate(words):
            pieces: list[list[int]] = [[] for _ in sentence]
            for token_id, word in zip(enc["input_ids"][i], enc.word_ids(i), strict=True):
                if word is not None:
                    pieces[word].append(token_id)
            window: list[int] = []
            starts: list[int] = []
            first = 0
            for w, word_pieces in enumerate(pieces):
                word_pieces = (word_pieces or [tokenizer.unk_token_id])[:budget]  # a word the tokenizer drops
                if window and len(window) + len(word_pieces) > budget:
                    emit(i, window, starts, first)
                    window, starts, first = [], [], w
                starts.append(len(window) + 1)  # +1: [CLS]
                window.extend(word_pieces)
            emit(i, window, starts, first)
        return out

    def features(self, records: list[Record], encoded: dict[str, list]) -> list[Feature]:
        feats = []
        golds = [self.gold(r) for r in records]
        for index, (ids, starts, record, first) in enumerate(
            zip(encoded["input_ids"], encoded["word_starts"], encoded["record"], encoded["first_word"], strict=True)
        ):
            target = golds[record][first : first + len(starts)]
            feats.append({"index": index, "record": record, "input_ids": ids, "word_starts": starts, "target": target})
        return feats

    def collate(self, batch: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        import torch

        ids = pad([f["input_ids"] for f in batch], pad_id)
        labels = torch.full_like(ids, IGNORE)
        word_mask = torch.zeros_like(ids, dtype=torch.bool)
        for row, feature in enumerate(batch):
            starts = torch.tensor(feature["word_starts"], dtype=torch.long)
            labels[row, starts] = torch.tensor(feature["target"], dtype=torch.long)
            word_mask[row, starts] = True
        return {
            "input_ids": ids,
            "attention_mask": attention_mask(batch, ids.shape[1]),
            "index": torch.tensor([f["index"] for f in batch]),
            "target": labels,
            "word_mask": word_mask,
        }

    def build_head(self, hidden: int, dropout: float, pooling: str, own_pooler: bool, init_std: float) -> nn.Module:
        from blurb_lab.tasks.heads import TokenHead

        head = TokenHead(hidden, len(self.labels), dropout)
        init_linear(head, init_std)
        return head

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        from torch import nn

        return nn.functional.cross_entropy(logits.float().flatten(0, 1), batch["target"].flatten(), ignore_index=IGNORE)

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> list[Any]:
        best = logits.argmax(-1)
        return [best[row][batch["word_mask"][row]].tolist() for row in range(best.shape[0])]

    def assemble(self, decoded: dict[int, Any], features: list[Feature], n_records: int) -> list[Any]:
        out: list[list[int]] = [[] for _ in range(n_records)]
        for feature in features:  # windows of a sentence are consecutive and in order
            out[feature["record"]].extend(decoded[feature["index"]])
        return out

    def metric_inputs(self, predictions: list[Any], golds: list[Any]) -> tuple[Any, Any]:
        def names(rows: list[list[int]]) -> list[list[str]]:
            return [[self.labels[i] for i in row] for row in rows]

        return names(predictions), names(golds)

    def trivial_predictions(self, train: list[Record], dev: list[Record]) -> list[Any] | None:
        from collections import Counter

        majority = Counter(tag for r in train for tag in self.gold(r)).most_common(1)[0][0]  # O
        return [[majority] * len(r[self.tokens_field]) for r in dev]

    def trivial_loss(self, train: list[Record]) -> float:
        return entropy([tag for r in train for tag in self.gold(r)])

    def to_json(self, prediction: Any) -> Any:
        return [self.labels[i] for i in prediction]

    def from_json(self, value: Any, record: Record) -> Any:
        n = len(record[self.tokens_field])
        if not isinstance(value, list) or len(value) != n:
            raise ValueError(f"expected a list of {n} tags (one per token), got {value!r:.80}")
        unknown = sorted({str(v) for v in value if str(v) not in self.label_index})
        if unknown:
            raise ValueError(f"unknown tags {unknown}; allowed: {', '.join(self.labels)}")
        return [self.label_index[str(v)] for v in value]
