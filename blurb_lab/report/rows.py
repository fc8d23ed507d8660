"""The summary's statistics rows: one typed ``SummaryRow`` per configuration (everything but the seeds),
with the location and spread of its scores over seeds, failed runs by cause, EVP, the seed-source split and
the reference scores a run must beat. Which configuration a row is compared with is ``comparisons``'s
concern; how rows are written, ``markdown`` and ``csv_schema``'s."""

from __future__ import annotations

import dataclasses
import logging
import statistics
from dataclasses import dataclass
from typing import Any

from blurb_lab.report import stats
from blurb_lab.report.evp import EvpCurves, expected_validation_performance
from blurb_lab.report.gather import run_sort_key
from blurb_lab.report.stats import BootstrapInterval, Interval
from blurb_lab.results import CRASHED, outcome
from blurb_lab.seeds import grid_seeds

log = logging.getLogger(__name__)

# Runs that did not run to their end: counted in their own columns, kept out of every statistic.
UNFINISHED = ("pruned", CRASHED)
FAILURE_KINDS = ("diverged", "no_optimisation", "no_generalisation")
EVP_COLUMN_N = 5  # the summary's `E[max dev] n=5` column


@dataclass
class ScoreStats:
    """Location and spread of one score (dev or test) over a configuration's seeds; all None without a
    finite score, the std also with a single one."""

    mean: float | None = None
    std: float | None = None
    min: float | None = None
    median: float | None = None
    max: float | None = None
    iqr: float | None = None
    mean_ci: BootstrapInterval | None = None  # 95% bootstrap interval of the mean
    std_ci: BootstrapInterval | None = None  # ... and of the std


@dataclass
class ReferenceScores:
    """The scores a configuration's runs must beat: the trivial predictor's and the untrained encoder's
    (zero-shot) on dev and test, None where its results.json has none."""

    trivial_dev: float | None = None
    trivial_test: float | None = None
    zero_shot_dev: float | None = None
    zero_shot_test: float | None = None


@dataclass
class SummaryRow:
    """One configuration of the summary. Pruned and crashed runs are counted (n_pruned, n_crashed) but enter
    no statistic, n included; the per-seed lists hold the finished runs in seed order. The field order is
    summary.json's key order."""

    config: str  # the configuration label
    config_key: str
    model: str
    task: str
    strategy: str
    metric: str
    n: int  # finished runs
    n_failed: int
    n_pruned: int
    n_crashed: int
    seeds: list[Any]
    dev: ScoreStats
    test: ScoreStats
    test_scores: list[float | None]
    dev_scores: list[float | None]
    seed_init: list[Any]
    seed_data: list[Any]
    statuses: list[str | None]
    failed_rate_ci: Interval | None  # Wilson
    failure_kinds: dict[str, int]  # failed runs by cause: FAILURE_KINDS, then "unspecified"
    e_max_dev_n5: float | None  # the unbiased E[max dev] among EVP_COLUMN_N runs
    evp: EvpCurves | None
    seed_variance: dict[str, dict[str, Any]] | None  # per split with a seed grid: stats.variance_decomposition
    reference_scores: ReferenceScores
    beats_trivial_test: bool | None  # test mean above the trivial predictor's test score
    comparison: dict[str, Any] | None = None  # filled by comparisons.compare_rows

    @property
    def tested(self) -> bool:
        """Whether the row was tested against a reference (not the reference itself, nor without one)."""
        return self.comparison is not None and "tests" in self.comparison

    def to_dict(self) -> dict[str, Any]:
        """The row as summary.json holds it (nested dataclasses as dicts, field order kept)."""
        return dataclasses.asdict(self)


def score_stats(values: list[float | None]) -> ScoreStats:
    """Location and spread of one score over seeds, with 95% bootstrap intervals of the mean and the std."""
    finite = stats.finite(values)
    if not finite:
        return ScoreStats()
    return ScoreStats(
        mean=statistics.fmean(finite),
        std=statistics.stdev(finite) if len(finite) > 1 else None,
        min=min(finite),
        median=statistics.median(finite),
        max=max(finite),
        iqr=stats.iqr(finite),
        mean_ci=stats.bootstrap_ci(finite, "mean"),
        std_ci=stats.bootstrap_ci(finite, "std"),
    )


def failure_kinds(members: list[dict[str, Any]]) -> dict[str, int]:
    """Failed runs by cause (Mosbach et al.): diverged, no_optimisation, no_generalisation; `unspecified`
    for failed runs written before results.json carried a failure_kind."""
    counts = dict.fromkeys((*FAILURE_KINDS, "unspecified"), 0)
    for r in members:
        if r.get("status") == "ok":
            continue
        kind = "diverged" if r.get("status") == "diverged" else r.get("failure_kind")
        counts[kind if kind in counts else "unspecified"] += 1
    return counts


def _first_finite(members: list[dict[str, Any]], key: str) -> float | None:
    values = stats.finite([r.get(key) for r in members])
    if len(set(values)) > 1:
        log.warning("%s differs between runs of %s; using the first", key, members[0].get("config_label"))
    return values[0] if values else None


def _seed_variance(members: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """Init versus data-order decomposition, for each score whose runs form a seed_init x seed_data grid."""
    out = {}
    for split in ("test", "dev"):
        grid = stats.seed_grid([(grid_seeds(r)[1], grid_seeds(r)[2], r.get(f"{split}_score")) for r in members])
        if grid is not None:
            out[split] = stats.variance_decomposition(grid)
    return out or None


def summary_row(key: str, runs: list[dict[str, Any]]) -> SummaryRow:
    """The row of one configuration from all its runs (in seed order), its comparison not yet filled."""
    members = [r for r in runs if outcome(r) not in UNFINISHED]
    first = (members or runs)[0]
    n_failed = sum(r["status"] != "ok" for r in members)
    test = score_stats([r.get("test_score") for r in members])
    evp = expected_validation_performance([(r.get("dev_score"), r.get("test_score"), run_sort_key(r))
                                           for r in members])  # fmt: skip
    references = ReferenceScores(
        trivial_dev=_first_finite(members, "trivial_dev_score"),
        trivial_test=_first_finite(members, "trivial_test_score"),
        zero_shot_dev=_first_finite(members, "zero_shot_dev_score"),
        zero_shot_test=_first_finite(members, "zero_shot_test_score"),
    )
    beats = None
    if test.mean is not None and references.trivial_test is not None:
        beats = test.mean > references.trivial_test
    return SummaryRow(
        config=first["config_label"],
        config_key=key,
        model=first["model"],
        task=first["task"],
        strategy=first["strategy"],
        metric=first["metric"],
        n=len(members),
        n_failed=n_failed,
        n_pruned=sum(outcome(r) == "pruned" for r in runs),
        n_crashed=sum(outcome(r) == CRASHED for r in runs),
        seeds=[r["seed"] for r in members],
        dev=score_stats([r.get("dev_score") for r in members]),
        test=test,
        test_scores=[r.get("test_score") for r in members],
        dev_scores=[r.get("dev_score") for r in members],
        seed_init=[grid_seeds(r)[1] for r in members],
        seed_data=[grid_seeds(r)[2] for r in members],
        statuses=[r.get("status") for r in members],
        failed_rate_ci=stats.wilson_interval(n_failed, len(members)),
        failure_kinds=failure_kinds(members),
        e_max_dev_n5=evp["unbiased"][EVP_COLUMN_N - 1] if evp and evp["n_runs"] >= EVP_COLUMN_N else None,
        evp=evp,
        seed_variance=_seed_variance(members),
        reference_scores=references,
        beats_trivial_test=beats,
    )


def reference_scores(rows: list[SummaryRow]) -> dict[str, Any]:
    """summary.json's `reference_scores`: per task the trivial predictor's dev and test scores, and per model
    the zero-shot scores where the task has them (null otherwise)."""
    out: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: (r.task, r.model)):
        refs = row.reference_scores
        task = out.setdefault(row.task, {"metric": row.metric, "trivial_dev": None, "trivial_test": None,
                                         "zero_shot": {}})  # fmt: skip
        if task["trivial_dev"] is None:
            task["trivial_dev"] = refs.trivial_dev
        if task["trivial_test"] is None:
            task["trivial_test"] = refs.trivial_test
        if refs.zero_shot_dev is not None or refs.zero_shot_test is not None:
            task["zero_shot"].setdefault(row.model, {"dev": refs.zero_shot_dev, "test": refs.zero_shot_test})
    return out
