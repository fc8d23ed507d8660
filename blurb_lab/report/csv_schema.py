"""summary.csv's schema: its original columns, then the columns appended since (intervals, failed runs by
cause, EVP, references, tests, verdicts, seed sources), which the W&B summary table shares."""

from __future__ import annotations

import csv
import io
from typing import Any

from blurb_lab.report.rows import FAILURE_KINDS, SummaryRow
from blurb_lab.report.significance import TEST_ORDER

SCORE_STATS = ("mean", "std", "min", "median", "max")
CSV_COLUMNS = ["config", "model", "task", "strategy", "metric", "n", "n_failed"] + [
    f"{split}_{stat}" for split in ("dev", "test") for stat in SCORE_STATS
]
# Appended after the original columns so older readers of summary.csv keep working.
EXTRA_COLUMNS = [
    *(f"{split}_{stat}_ci_{end}" for split in ("test", "dev") for stat in ("mean", "std") for end in ("low", "high")),
    "test_iqr",
    "dev_iqr",
    "failed_rate_ci_low",
    "failed_rate_ci_high",
    *(f"n_{kind}" for kind in FAILURE_KINDS),
    "E[max dev] n=5",
    "trivial_dev",
    "trivial_test",
    "zero_shot_dev",
    "zero_shot_test",
    "beats_trivial_test",
    "reference",
    "paired",
    *(f"{name}_{field}" for name in TEST_ORDER for field in ("test", "p", "p_holm")),
    "aso_eps_min",
    "verdict",
    "std_over_data_given_init",
    "std_over_init_given_data",
    "anova_share_init",
    "anova_share_data",
    "anova_share_residual",
    "n_pruned",
    "n_crashed",
]


def extra_values(r: SummaryRow) -> dict[str, Any]:
    """The new per-row values by column name (summary.csv and the W&B table share them)."""
    out: dict[str, Any] = {}
    for split, scores in (("test", r.test), ("dev", r.dev)):
        for stat, ci in (("mean", scores.mean_ci), ("std", scores.std_ci)):
            out[f"{split}_{stat}_ci_low"] = ci and ci["low"]
            out[f"{split}_{stat}_ci_high"] = ci and ci["high"]
        out[f"{split}_iqr"] = scores.iqr
    wilson = r.failed_rate_ci
    out["failed_rate_ci_low"], out["failed_rate_ci_high"] = wilson and wilson["low"], wilson and wilson["high"]
    for kind in FAILURE_KINDS:
        out[f"n_{kind}"] = r.failure_kinds[kind]
    out["E[max dev] n=5"] = r.e_max_dev_n5
    refs = r.reference_scores
    out.update(trivial_dev=refs.trivial_dev, trivial_test=refs.trivial_test, zero_shot_dev=refs.zero_shot_dev,
               zero_shot_test=refs.zero_shot_test)  # fmt: skip
    out["beats_trivial_test"] = r.beats_trivial_test
    c = r.comparison or {}
    out["reference"] = c.get("reference")
    out["paired"] = c.get("paired")
    for name in TEST_ORDER:
        entry = c.get("tests", {}).get(name, {})
        out.update(
            {f"{name}_test": entry.get("test"), f"{name}_p": entry.get("p"), f"{name}_p_holm": entry.get("p_holm")}
        )
    out["aso_eps_min"] = c.get("aso_eps_min")
    out["verdict"] = c.get("verdict")
    grid = (r.seed_variance or {}).get("test") or {}
    for key in ("std_over_data_given_init", "std_over_init_given_data"):
        out[key] = grid.get(key)
    for factor in ("init", "data", "residual"):
        out[f"anova_share_{factor}"] = grid.get(f"share_{factor}")
    out["n_pruned"], out["n_crashed"] = r.n_pruned, r.n_crashed
    return out


def to_csv(rows: list[SummaryRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + EXTRA_COLUMNS)
    for r in rows:
        stats_ = [getattr(scores, stat) for scores in (r.dev, r.test) for stat in SCORE_STATS]
        extra = extra_values(r)
        writer.writerow([r.config, r.model, r.task, r.strategy, r.metric, r.n, r.n_failed, *stats_,
                         *("" if extra[c] is None else extra[c] for c in EXTRA_COLUMNS)])  # fmt: skip
    return buffer.getvalue()
