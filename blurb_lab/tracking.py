"""Weights & Biases: one run per job (grouped by configuration), one aggregate run per sweep.

W&B keeps a live run per process, so every job ends with wandb.finish() (also on failure) or the
next seed of a multirun would land in the same run.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET", re.IGNORECASE)


def group_name(label: str, key: str) -> str:
    """A readable W&B group id for a configuration without its seed (W&B allows 128 chars)."""
    return f"{label[:110]} [{key[:8]}]"


def wandb_logger(cfg: Any, output_dir: Path, label: str, key: str, hparams: dict[str, Any]) -> Any:
    from pytorch_lightning.loggers import WandbLogger

    os.environ.setdefault("WANDB_SILENT", "true")
    return WandbLogger(
        project=cfg.logger.wandb_project,
        entity=cfg.logger.wandb_entity,
        name=f"seed {cfg.seed}",
        group=group_name(label, key),
        job_type="train",
        save_dir=str(output_dir),
        mode=cfg.logger.wandb_mode,
        config=hparams,
        log_model=False,
    )


def finish(exit_code: int) -> None:
    """Close the process's live run, if any; the exit code marks a failed job in W&B."""
    import sys

    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def log_aggregate(logger_cfg: Any, sweep_dir: Path, rows: list[dict[str, Any]], images: list[Path]) -> None:
    """One extra run per sweep (job_type=aggregate): the summary table and the plots."""
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    columns = ["config", "model", "task", "strategy", "metric", "n", "n_failed", "dev_mean", "dev_std",
               "test_mean", "test_std", "test_min", "test_max"]  # fmt: skip
    table = wandb.Table(columns=columns)
    for r in rows:
        d, t = r["dev"], r["test"]
        table.add_data(r["config"], r["model"], r["task"], r["strategy"], r["metric"], r["n"], r["n_failed"],
                       d["mean"], d["std"], t["mean"], t["std"], t["min"], t["max"])  # fmt: skip
    run = wandb.init(
        project=logger_cfg.wandb_project,
        entity=logger_cfg.wandb_entity,
        mode=logger_cfg.wandb_mode,
        dir=str(sweep_dir),
        job_type="aggregate",
        name=f"summary {sweep_dir.name}",
        config={"sweep_dir": str(sweep_dir)},
    )
    try:
        payload: dict[str, Any] = {"summary": table}
        for image in images:
            payload[f"plots/{image.stem}"] = wandb.Image(str(image))
        run.log(payload)
    finally:
        run.finish()
