"""The cross-encoded cosine head (`model.pair_head=cosine`): sentence-pair similarity scored by the
cosine of each sentence's mean-pooled tokens inside one joint [CLS] a [SEP] b [SEP] encoding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from blurb_lab.errors import ConfigError
from blurb_lab.tasks.base import Feature, encode_batch, pad
from blurb_lab.tasks.sequence import PairRegression
from blurb_lab.types import Record

if TYPE_CHECKING:  # torch inside the methods that make tensors: checking data needs none (base.py)
    import torch
    from torch import nn

    from blurb_lab.tasks.heads import CrossCosineHead


class CrossCosineRegression(PairRegression):
    """Sentence-pair similarity, cross-encoded as BLURB does ([CLS] a [SEP] b [SEP], one sequence),
    scored by the cosine of each sentence's mean-pooled tokens in that joint encoding
    (`model.pair_head=cosine`) instead of a fresh linear layer on the pooled pair.

    Sentence-embedding models (all-MiniLM-L6-v2) were trained to score pairs by cosine, while a
    fresh linear head must learn both the ranking and the scale from BIOSSES's few train pairs, and
    does neither well (measured in docs/findings.md). The affine map starts as the least-squares
    fit of the train targets on the starting encoder's cosines, so training begins from a
    calibrated zero-shot predictor.
    """

    @property
    def encoding_tag(self) -> str:
        return "cross_segments"

    def encode(self, records: list[Record], tokenizer: Any, max_len: int) -> dict[str, list]:
        first, second = self.cfg.text_fields
        enc = tokenizer([r[first] for r in records], [r[second] for r in records], truncation=True, max_length=max_len)
        if not getattr(enc, "is_fast", False):
            raise ConfigError("model.pair_head", "'cosine' needs a fast tokenizer (it reads each token's sentence)")
        out = {"input_ids": list(enc["input_ids"])}
        if "token_type_ids" in enc:
            out["token_type_ids"] = list(enc["token_type_ids"])
        # 0 or 1: the token's sentence; -1: a special token, pooled by neither side
        out["segments"] = [[-1 if s is None else s for s in enc.sequence_ids(i)] for i in range(len(records))]
        return out

    def collate(self, batch: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        out = super().collate(batch, pad_id)
        out["segments"] = pad([f["segments"] for f in batch], -1)
        return out

    def build_head(self, hidden: int, dropout: float, pooling: str, own_pooler: bool, init_std: float) -> nn.Module:
        from blurb_lab.tasks.heads import CrossCosineHead

        return CrossCosineHead()

    def forward(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return head(encode_batch(encoder, batch), batch["segments"])

    def _cosines(self, encoder: nn.Module, head: CrossCosineHead, features: list[Feature], pad_id: int) -> torch.Tensor:
        """The head's cosines over features, in batches of 64 (called under no_grad)."""
        import torch

        parts = []
        for start in range(0, len(features), 64):
            batch = self.collate(features[start : start + 64], pad_id)
            parts.append(head.cosine(encode_batch(encoder, batch), batch["segments"]).squeeze(-1).double())
        return torch.cat(parts)

    def init_head(
        self, encoder: nn.Module, head: nn.Module, features: dict[str, list[Feature]], pad_id: int, cache_dir: str = ""
    ) -> None:
        """Least-squares fit of the trained targets on the starting encoder's train cosines (after
        the strategy, so a re-initialised top is what is fitted), then the dev and test scores of
        that untrained predictor: the start a fine-tuned run must beat. No dropout, no random draws.
        The cosines are cached by the encoder's exact weights, the features and the thread count
        (which decides float summation order), so the seeds of a sweep that start from the same
        weights compute them once."""
        import torch

        with torch.no_grad():
            self._fit_head(head, features, self._start_cosines(encoder, head, features, pad_id, cache_dir))

    def _start_cosines(
        self, encoder: nn.Module, head: CrossCosineHead, features: dict[str, list[Feature]], pad_id: int, cache_dir: str
    ) -> dict[str, torch.Tensor]:
        import torch

        from blurb_lab.cache import cached, code_digest, fingerprint, weights_digest

        def build() -> dict[str, torch.Tensor]:
            was_training = encoder.training
            encoder.eval()
            try:
                return {split: self._cosines(encoder, head, feats, pad_id) for split, feats in features.items()}
            finally:
                encoder.train(was_training)

        if not cache_dir:
            return build()
        inputs = {split: [[f["input_ids"], f.get("token_type_ids"), f["segments"]] for f in feats]
                  for split, feats in features.items()}  # fmt: skip
        key = fingerprint(weights_digest(encoder), inputs, pad_id, torch.get_num_threads(),
                          code_digest("tasks/cross_cosine.py", "tasks/heads.py", "tasks/base.py"))  # fmt: skip
        return cached(cache_dir, f"{self.cfg.name}-cosine-start", key, build, what="cosine head start")

    def _fit_head(self, head: nn.Module, features: dict[str, list[Feature]], cosines: dict[str, torch.Tensor]) -> None:
        import torch

        x = cosines["train"]
        y = torch.tensor([(f["target"] - self.center) / self.scale for f in features["train"]], dtype=torch.float64)
        spread = (x - x.mean()).square().mean()
        slope = ((x - x.mean()) * (y - y.mean())).mean() / spread if spread > 1e-12 else torch.tensor(0.0)
        intercept = y.mean() - slope * x.mean()
        head.out.weight.fill_(float(slope))
        head.out.bias.fill_(float(intercept))
        self.head_init = {"slope": float(slope), "intercept": float(intercept), "train_pairs": len(x)}
        for split in ("dev", "test"):
            if features.get(split):
                predicted = (cosines[split] * slope + intercept) * self.scale + self.center
                golds = [f["target"] for f in features[split]]
                self.head_init[f"start_{split}_score"] = self.score(predicted.tolist(), golds)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "pair_head": {"mode": "cosine", **getattr(self, "head_init", {})}}
