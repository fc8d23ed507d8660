"""Statistics over the seeds of a sweep: the shared number handling, intervals (bootstrap, IQR, Wilson) and
the split of variance between initialisation and data-order seeds.

A mean and a std over 5-10 seeds say how big the spread is, not whether one strategy really spreads less
than another; the report's numbers answer that (Mosbach et al. 2021; Dodge et al. 2019, 2020; Tang et al.
2020). Tests between configurations live in ``significance``, expected validation performance in ``evp``.
Every statistic scipy provides is computed by scipy; only Holm's step-down correction, the EVP estimators
and the two-way decomposition (which scipy lacks) are written here and beside. Everything is deterministic:
the bootstrap draws from ``np.random.default_rng(BOOTSTRAP_SEED)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 0


class Interval(TypedDict):
    """A 95% interval (of a mean, a std or a failure rate)."""

    low: float
    high: float


class BootstrapInterval(Interval):
    method: str  # "BCa", or "percentile" where BCa is degenerate


def finite(values: Sequence[Any]) -> list[float]:
    """The finite numbers among the values (null, NaN, inf and non-numbers dropped)."""
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.floating | np.integer):
            continue
        if math.isfinite(v):
            out.append(float(v))
    return out


def float_or_none(value: Any) -> float | None:
    """A scipy result as a plain float, or None when it is NaN or infinite (not computable)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _sample_std(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.std(x, ddof=1, axis=axis)


STATISTICS: dict[str, Callable[..., Any]] = {"mean": np.mean, "std": _sample_std}


def bootstrap_ci(values: Sequence[Any], statistic: str = "mean") -> BootstrapInterval | None:
    """95% bootstrap interval of the mean or the sample std, so a reader sees how little 5-10 seeds pin down.

    BCa (scipy's default) first; when BCa is degenerate (tiny or heavily tied samples) the percentile
    interval. None when there are fewer than 3 finite values or all are equal: no interval says anything then.
    """
    x = np.asarray(finite(values), dtype=float)
    if x.size < 3 or np.ptp(x) == 0:
        return None
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DegenerateDataWarning / RuntimeWarning when BCa cannot work
            result = stats.bootstrap(
                (x,),
                STATISTICS[statistic],
                n_resamples=BOOTSTRAP_RESAMPLES,
                confidence_level=CONFIDENCE,
                method=method,
                rng=np.random.default_rng(BOOTSTRAP_SEED),
            )
        low, high = float_or_none(result.confidence_interval.low), float_or_none(result.confidence_interval.high)
        if low is not None and high is not None:
            return {"low": low, "high": high, "method": method}
    return None


def iqr(values: Sequence[Any]) -> float | None:
    """Interquartile range: a spread that a single failed run cannot inflate the way it inflates the std."""
    x = finite(values)
    return float(stats.iqr(x)) if len(x) >= 2 else None


def wilson_interval(k: int, n: int) -> Interval | None:
    """Wilson 95% interval of a failure rate k/n: with 10 seeds, 0 failures still allows a rate near 28%."""
    if n <= 0:
        return None
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return {"low": float(ci.low), "high": float(ci.high)}


# --- seed grid: initialisation versus data order ----------------------------------------------------


def seed_grid(cells: Sequence[tuple[Any, Any, Any]]) -> np.ndarray | None:
    """A levels(init) x levels(data) matrix from (seed_init, seed_data, score) cells, when they form a full
    grid with one finite score per cell and at least 2 levels of each factor; else None."""
    inits = sorted({c[0] for c in cells})
    datas = sorted({c[1] for c in cells})
    if len(inits) < 2 or len(datas) < 2 or len(cells) != len(inits) * len(datas):
        return None
    grid = np.full((len(inits), len(datas)), np.nan)
    for seed_init, seed_data, score in cells:
        i, j = inits.index(seed_init), datas.index(seed_data)
        if not np.isnan(grid[i, j]) or not finite([score]):
            return None  # a repeated cell or a run without a score
        grid[i, j] = float(score)
    return grid


def variance_decomposition(grid: np.ndarray) -> dict[str, Any]:
    """Where the spread comes from, for an init x data grid of scores (Dodge et al. 2020).

    ``std_over_data_given_init``: the mean over init levels of the std over data orders (init held fixed);
    ``std_over_init_given_data``: the reverse. Two-way ANOVA without replication: sums of squares of the
    init rows, the data columns and the residual (interaction + noise), their shares of the total, and the
    F tests of each factor against the residual (p from scipy's F distribution).
    """
    grid = np.asarray(grid, dtype=float)
    rows, cols = grid.shape
    grand = grid.mean()
    row_means, col_means = grid.mean(axis=1), grid.mean(axis=0)
    ss_init = cols * float(np.sum((row_means - grand) ** 2))
    ss_data = rows * float(np.sum((col_means - grand) ** 2))
    residual = grid - row_means[:, None] - col_means[None, :] + grand
    ss_residual = float(np.sum(residual**2))
    ss_total = float(np.sum((grid - grand) ** 2))
    df_init, df_data, df_residual = rows - 1, cols - 1, (rows - 1) * (cols - 1)

    def f_test(ss: float, df: int) -> tuple[float | None, float | None]:
        if ss_residual <= 1e-15 * max(ss_total, 1e-300):
            return None, None
        f = (ss / df) / (ss_residual / df_residual)
        return f, float(stats.f.sf(f, df, df_residual))

    f_init, p_init = f_test(ss_init, df_init)
    f_data, p_data = f_test(ss_data, df_data)
    share = (lambda ss: ss / ss_total) if ss_total > 0 else (lambda ss: None)
    return {
        "n_init": rows,
        "n_data": cols,
        "std_over_data_given_init": float(np.mean(np.std(grid, axis=1, ddof=1))),
        "std_over_init_given_data": float(np.mean(np.std(grid, axis=0, ddof=1))),
        "std_total": float(np.std(grid, ddof=1)),
        "ss_init": ss_init,
        "ss_data": ss_data,
        "ss_residual": ss_residual,
        "ss_total": ss_total,
        "share_init": share(ss_init),
        "share_data": share(ss_data),
        "share_residual": share(ss_residual),
        "df_init": df_init,
        "df_data": df_data,
        "df_residual": df_residual,
        "f_init": f_init,
        "p_init": p_init,
        "f_data": f_data,
        "p_data": p_data,
    }
