"""The sweep's aggregate W&B run (job_type=aggregate): what summary.* and the plots hold, in W&B."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blurb_lab.report.csv_schema import EXTRA_COLUMNS, extra_values
from blurb_lab.report.rows import SummaryRow, reference_scores
from blurb_lab.tracking import start_run


def log_aggregate(logger_cfg: Any, sweep_dir: Path, rows: list[SummaryRow], images: list[Path]) -> None:
    """One extra run per sweep (job_type=aggregate): the summary table (its original columns first, then the
    intervals, references, tests, verdicts and seed decomposition of summary.csv), the EVP curves and the
    reference scores as tables, the references in the run summary, and the plots."""
    import wandb

    columns = ["config", "model", "task", "strategy", "metric", "n", "n_failed", "dev_mean", "dev_std",
               "test_mean", "test_std", "test_min", "test_max"]  # fmt: skip
    table = wandb.Table(columns=columns + EXTRA_COLUMNS, allow_mixed_types=True)
    for r in rows:
        d, t = r.dev, r.test
        extra = extra_values(r)
        table.add_data(r.config, r.model, r.task, r.strategy, r.metric, r.n, r.n_failed,
                       d.mean, d.std, t.mean, t.std, t.min, t.max,
                       *(extra[c] for c in EXTRA_COLUMNS))  # fmt: skip
    evp = wandb.Table(columns=["config", "task", "n", "e_max_dev_unbiased", "e_max_dev_dodge", "e_max_dev_dodge_sd",
                               "e_test_at_best_dev"], allow_mixed_types=True)  # fmt: skip
    for r in rows:
        e = r.evp
        for i, n in enumerate(e["n"] if e else []):
            picked = e["test_at_best_dev"][i] if e["test_at_best_dev"] else None
            evp.add_data(r.config, r.task, n, e["unbiased"][i], e["dodge"][i], e["dodge_sd"][i], picked)
    refs = reference_scores(rows)
    references = wandb.Table(columns=["task", "metric", "model", "trivial_dev", "trivial_test", "zero_shot_dev",
                                      "zero_shot_test"], allow_mixed_types=True)  # fmt: skip
    for task, ref in refs.items():
        for model, zero in (ref["zero_shot"] or {None: {"dev": None, "test": None}}).items():
            references.add_data(task, ref["metric"], model, ref["trivial_dev"], ref["trivial_test"], zero["dev"],
                                zero["test"])  # fmt: skip
    run = start_run(logger_cfg, sweep_dir, job_type="aggregate", name=f"summary {sweep_dir.name}",
                    config={"sweep_dir": str(sweep_dir)})  # fmt: skip
    try:
        payload: dict[str, Any] = {"summary": table, "evp": evp, "reference_scores": references}
        for image in images:
            payload[f"plots/{image.stem}"] = wandb.Image(str(image))
        run.log(payload)
        for task, ref in refs.items():
            run.summary[f"reference/{task}/trivial_dev"] = ref["trivial_dev"]
            run.summary[f"reference/{task}/trivial_test"] = ref["trivial_test"]
            for model, zero in ref["zero_shot"].items():
                run.summary[f"reference/{task}/{model}/zero_shot_dev"] = zero["dev"]
                run.summary[f"reference/{task}/{model}/zero_shot_test"] = zero["test"]
    finally:
        run.finish()
