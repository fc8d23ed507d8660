"""A configuration's identity: what it computes, apart from its seeds, where it writes and which device
ran it. Jobs with one identity are seeds of one configuration (report), and resume reuses a finished
job only when its identity is unchanged."""

from __future__ import annotations

import copy
from typing import Any

from omegaconf import DictConfig

from blurb_lab.cache import fingerprint
from blurb_lab.results import scrub_secrets
from blurb_lab.seeds import SEED_KEYS

# Keys that name where things go, how a launcher placed the job (its device slot, its CPU threads) or
# how batches are fed (loader workers; dev/test batch order, since predictions are keyed by example),
# not what is computed: left out of a configuration's identity. Node ranks come from the environment
# (torchrun, SLURM) and never enter the config.
NOT_IDENTITY = (
    *SEED_KEYS,
    "resume",
    "paths",
    "logger",
    "report",
    "study",  # the recipes file: the values it sets (optim.lr, ...) are identity
    "data.root",
    "data.cache_dir",
    "data.num_workers",
    "data.sort_eval_by_length",
    "trainer.enable_progress_bar",
    "trainer.num_threads",
    "trainer.device_slot",
    "trainer.checkpoint_interval_s",
    # How the global batch (data.batch_size) is split over the hardware: the same steps either way.
    "trainer.devices",
    "trainer.num_nodes",
    "trainer.strategy",
    "trainer.accumulate_grad_batches",
    "data.max_device_batch",
    "model.shape",  # the checkpoint's shape as declared: model.path (or model.random) decides it
)


def identity(hparams: dict[str, Any]) -> dict[str, Any]:
    """The part of resolved hparams that defines a configuration: NOT_IDENTITY keys dropped."""
    reduced = copy.deepcopy(hparams)
    for dotted in NOT_IDENTITY:
        *parents, leaf = dotted.split(".")
        node = reduced
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
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
