"""A persistent on-disk cache for what every seed of a sweep would compute alike (tokenised splits,
reference scores, the cosine head's start): seeds 2..N reuse seed 1's work."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able parts (strings, numbers, lists, dicts)."""
    text = json.dumps([FORMAT_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Identity of a tokenizer for the tokenisation cache: its full serialised definition."""
    return fingerprint(tokenizer.backend_tokenizer.to_str(), type(tokenizer).__name__)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def code_digest(*parts: str) -> str:
    """A digest of blurb_lab source files and folders (paths relative to the package), for cache
    keys whose value that code computes: an entry made by other code is never read."""
    root = Path(__file__).resolve().parent
    paths: list[Path] = []
    for part in parts:
        target = root / part
        paths += sorted(target.glob("*.py")) if target.is_dir() else [target]
    return fingerprint([[p.relative_to(root).as_posix(), file_digest(p)] for p in paths])


def weights_digest(module: Any) -> str:
    """A digest of every parameter and buffer of a torch module, by name, dtype, shape and bytes: a
    key for values computed from the module as it is (after any strategy changed it). SHA-256,
    which current CPUs compute in hardware: the cheapest of hashlib's digests (docs/performance.md)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def cached(cache_dir: str, name: str, key: str, build: Callable[[], Any], what: str = "tokenisation") -> Any:
    """Load <cache_dir>/<name>-<key>.pt or build and store it (atomic: temp file + rename)."""
    import torch  # here, so that fingerprint() (configuration identity, reports) needs no torch

    folder = Path(cache_dir).expanduser()
    path = folder / f"{name}-{key}.pt"
    if path.is_file():
        try:
            value = torch.load(path, weights_only=True)
            log.info("%s cache hit: %s", what, path)
            return value
        except Exception as exc:  # a truncated or foreign file: rebuild it
            log.warning("%s cache unreadable (%s); rebuilding %s", what, exc, path)
    log.info("%s cache miss: building %s", what, path)
    value = build()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(value, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return value
