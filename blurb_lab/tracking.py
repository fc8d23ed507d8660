"""Weights & Biases: one run per job (grouped by configuration); the sweep's aggregate run is logged
by report/wandb_summary.py through start_run.

W&B keeps a live run per process, so every job ends with wandb.finish() (also on failure) or the
next seed of a multirun would land in the same run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def group_name(label: str, key: str) -> str:
    """A readable W&B group id for a configuration without its seed (W&B allows 128 chars)."""
    return f"{label[:110]} [{key[:8]}]"


def start_run(logger_cfg: Any, directory: Path, **init: Any) -> Any:
    """wandb.init in the configured mode; an online run that cannot reach its server within
    logger.wandb_init_timeout falls back to offline with one warning, instead of hanging a sweep."""
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    common = dict(project=logger_cfg.wandb_project, entity=logger_cfg.wandb_entity, dir=str(directory), **init)
    if logger_cfg.wandb_mode == "online":
        try:
            return wandb.init(
                mode="online", settings=wandb.Settings(init_timeout=logger_cfg.wandb_init_timeout), **common
            )
        except Exception as exc:  # no network, no API key, server down: keep the results, log offline
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("W&B online unavailable (%s); logging offline to %s (upload later with wandb sync)",
                        message[:200], directory / "wandb")  # fmt: skip
            finish(1)
    return wandb.init(mode="disabled" if logger_cfg.wandb_mode == "disabled" else "offline", **common)


def wandb_logger(cfg: Any, output_dir: Path, label: str, key: str, hparams: dict[str, Any]) -> Any:
    from pytorch_lightning.loggers import WandbLogger

    run = start_run(cfg.logger, output_dir, name=f"seed {cfg.seed}", group=group_name(label, key), job_type="train",
                    config=hparams)  # fmt: skip
    return WandbLogger(experiment=run, log_model=False)


def finish(exit_code: int) -> None:
    """Close the process's live run, if any; the exit code marks a failed job in W&B."""
    import sys

    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)
