"""Find and load encoders and tokenizers: hub ids, local folders, a model shipped inside a Python
package (the offline MiniLM), or a random-init model with a vocabulary trained on the task."""

from __future__ import annotations

import logging
from typing import Any

from blurb_lab.config.model_source import model_location
from blurb_lab.errors import ConfigError, ModelError
from blurb_lab.types import FAMILIES

log = logging.getLogger(__name__)
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def load_tokenizer(cfg: Any, train_texts: list[str]) -> Any:
    """Pretrained tokenizer, or for random models a WordPiece vocabulary trained on train_texts."""
    if cfg.source == "random":
        return _train_wordpiece(train_texts, cfg.random.vocab_size, cfg.random.max_position_embeddings)
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_location(cfg))
    except OSError as exc:
        raise ModelError(f"model.path: cannot load tokenizer '{cfg.path}': {exc}".splitlines()[0]) from None


_PRETRAINED: dict[str, tuple[Any, list[str]]] = {}  # one pristine copy per model folder and process


def load_encoder(cfg: Any, vocab_size: int) -> tuple[Any, list[str]]:
    """The pretrained encoder (AutoModel), or a random-init one of the configured shape, and the
    names of the weights the checkpoint lacked (newly initialised, as transformers reports them).

    Pretrained weights are read from disk once per process; every job of a sweep that shares the
    process gets its own deep copy (strategies re-initialise and freeze in place).
    """
    import copy

    from transformers import AutoModel

    if cfg.source == "random":
        return AutoModel.from_config(_random_config(cfg, vocab_size)), ["<all: model.source=random>"]
    location = model_location(cfg)
    if location not in _PRETRAINED:
        try:
            model, info = AutoModel.from_pretrained(location, output_loading_info=True)
        except OSError as exc:
            raise ModelError(f"model.path: cannot load model '{cfg.path}': {exc}".splitlines()[0]) from None
        missing = sorted(info.get("missing_keys") or [])
        if missing:
            log.warning("%s: %d weights not in the checkpoint, newly initialised: %s", cfg.name, len(missing),
                        ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""))  # fmt: skip
        _PRETRAINED[location] = (model, missing)
    model, missing = _PRETRAINED[location]
    return copy.deepcopy(model), list(missing)


def check_pooler(cfg: Any, encoder: Any, initialised: list[str]) -> None:
    """Warn (one line) when model.pooling=pooler reads a pooler the checkpoint did not carry."""
    if cfg.pooling != "pooler" or cfg.source == "random":
        return
    if getattr(encoder, "pooler", None) is None:
        log.warning("model.pooling=pooler: %s has no pooler; the head adds a new one (consider cls or mean)", cfg.name)
    elif any(name.startswith("pooler.") or ".pooler." in name for name in initialised):
        log.warning("model.pooling=pooler: %s's checkpoint has no pooler weights; they are newly initialised", cfg.name)


def _random_config(cfg: Any, vocab_size: int) -> Any:
    from transformers import BertConfig, ElectraConfig, RobertaConfig

    r = cfg.random
    shape = dict(
        vocab_size=vocab_size,
        hidden_size=r.hidden_size,
        num_hidden_layers=r.num_hidden_layers,
        num_attention_heads=r.num_attention_heads,
        intermediate_size=r.intermediate_size,
        max_position_embeddings=r.max_position_embeddings,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
    )
    if cfg.family == "bert":
        return BertConfig(**shape)
    if cfg.family == "electra":
        return ElectraConfig(embedding_size=r.hidden_size, **shape)
    if cfg.family == "roberta":
        shape["max_position_embeddings"] += 2  # RoBERTa offsets positions by the pad index
        return RobertaConfig(pad_token_id=0, type_vocab_size=1, **shape)
    raise ConfigError("model.family", f"'{cfg.family}' unknown; allowed: {', '.join(FAMILIES)}")


def _train_wordpiece(texts: list[str], vocab_size: int, max_len: int) -> Any:
    """A BERT-style uncased WordPiece tokenizer whose vocabulary is built from the given texts.

    The vocabulary is every character (plain and ##-continuation) plus the most frequent words,
    ties broken alphabetically: unlike the `tokenizers` trainer, the same texts always give the
    same vocabulary, which seed determinism and the tokenisation cache both need.
    """
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    vocab = SPECIAL_TOKENS + chars + [f"##{c}" for c in chars]
    known = set(vocab)
    for word, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])):
        if len(vocab) >= vocab_size:
            break
        if word not in known:
            vocab.append(word)
            known.add(word)
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_len,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def add_entity_markers(tokenizer: Any, markers: list[str]) -> list[str]:
    """Make entity placeholders (@GENE$ ...) single tokens, but only those the vocabulary splits.

    A marker the vocabulary already holds keeps its pretrained embedding; one it splits into
    '@', 'gene', '$' would blur into ordinary words, so it becomes a special token with a new
    embedding row. Returns the markers added.
    """
    split = [m for m in markers if len(tokenizer.tokenize(m)) != 1]
    if split:
        tokenizer.add_special_tokens({"additional_special_tokens": split}, replace_extra_special_tokens=False)
    return split
