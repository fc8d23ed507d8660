"""Statistics over the seeds of a sweep: intervals, tests between configurations, expected validation
performance (EVP) and the split of variance between initialisation and data-order seeds.

A mean and a std over 5-10 seeds say how big the spread is, not whether one strategy really spreads less
than another; these numbers answer that (Mosbach et al. 2021; Dodge et al. 2019, 2020; Tang et al. 2020).
Every statistic scipy provides is computed by scipy; only Holm's step-down correction, the EVP estimators
and the two-way decomposition (which scipy lacks) are written here. Everything is deterministic: the
bootstrap draws from ``np.random.default_rng(BOOTSTRAP_SEED)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05  # a Holm-adjusted p below this is reported as evidence in the verdict
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 0
ASO_EVIDENCE = 0.2  # Dror et al.: eps_min below this counts as (almost) stochastic dominance
ASO_MIN_SCORES = 5  # fewer scores per side: eps_min is not reported (3 vs 3 separated runs give 0.0)
ASO_SAMPLES = 1000  # deepsig's defaults: about 3 s per comparison on one core
ASO_BOOTSTRAP = 1000
FAILURE_KINDS = ("diverged", "no_optimisation", "no_generalisation")


def finite(values: Sequence[Any]) -> list[float]:
    """The finite numbers among the values (null, NaN, inf and non-numbers dropped)."""
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.floating | np.integer):
            continue
        if math.isfinite(v):
            out.append(float(v))
    return out


def _float_or_none(value: Any) -> float | None:
    """A scipy result as a plain float, or None when it is NaN or infinite (not computable)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _sample_std(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.std(x, ddof=1, axis=axis)


STATISTICS: dict[str, Callable[..., Any]] = {"mean": np.mean, "std": _sample_std}


def bootstrap_ci(values: Sequence[Any], statistic: str = "mean") -> dict[str, Any] | None:
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
        low, high = _float_or_none(result.confidence_interval.low), _float_or_none(result.confidence_interval.high)
        if low is not None and high is not None:
            return {"low": low, "high": high, "method": method}
    return None


def iqr(values: Sequence[Any]) -> float | None:
    """Interquartile range: a spread that a single failed run cannot inflate the way it inflates the std."""
    x = finite(values)
    return float(stats.iqr(x)) if len(x) >= 2 else None


def wilson_interval(k: int, n: int) -> dict[str, float] | None:
    """Wilson 95% interval of a failure rate k/n: with 10 seeds, 0 failures still allows a rate near 28%."""
    if n <= 0:
        return None
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return {"low": float(ci.low), "high": float(ci.high)}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (scipy only has Benjamini-Hochberg); None stays None, order is kept.

    Sorted ascending, the i-th of m p-values becomes max over j <= i of min(1, (m - j + 1) p_(j)).
    """
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


# --- expected validation performance ---------------------------------------------------------------


def evp_unbiased(values: Sequence[float]) -> list[float]:
    """Expected best of n runs drawn without replacement, n = 1..N (order statistics; Tang et al. 2020):
    E[max_n] = sum_{i=n..N} v(i) C(i-1, n-1) / C(N, n), with v(1) <= ... <= v(N)."""
    v = sorted(values)
    size = len(v)
    return [
        sum(v[i - 1] * math.comb(i - 1, n - 1) for i in range(n, size + 1)) / math.comb(size, n)
        for n in range(1, size + 1)
    ]


def evp_dodge(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Dodge et al. (2019): expected best of n draws with replacement, and its standard deviation.

    Weights w_i = (i/N)^n - ((i-1)/N)^n; mean = sum v(i) w_i; variance = sum v(i)^2 w_i - mean^2. Biased
    upward for n near N (Tang et al.), but it is what most papers plot, so both are reported.
    """
    v = sorted(values)
    size = len(v)
    means, sds = [], []
    for n in range(1, size + 1):
        weights = [(i / size) ** n - ((i - 1) / size) ** n for i in range(1, size + 1)]
        mean = sum(x * w for x, w in zip(v, weights, strict=True))
        var = sum(x * x * w for x, w in zip(v, weights, strict=True)) - mean * mean
        means.append(mean)
        sds.append(math.sqrt(max(var, 0.0)))
    return means, sds


def expected_test_at_best_dev(runs: Sequence[tuple[float, float, Any]]) -> list[float]:
    """Expected test score of the run with the best dev score among n runs (without replacement), n = 1..N.

    ``runs`` holds (dev, test, tie_key). Runs are ranked by dev; equal dev scores are ranked by tie_key,
    the smaller key ranking higher (so the run with the lower seed wins a tie), never by the test score.
    The order-statistics weights C(i-1, n-1)/C(N, n) then apply to the test scores in that order.
    """
    ordered = sorted(sorted(runs, key=lambda r: r[2], reverse=True), key=lambda r: r[0])
    size = len(ordered)
    return [
        sum(ordered[i - 1][1] * math.comb(i - 1, n - 1) for i in range(n, size + 1)) / math.comb(size, n)
        for n in range(1, size + 1)
    ]


def expected_validation_performance(runs: Sequence[tuple[Any, Any, Any]]) -> dict[str, Any] | None:
    """EVP curves for n = 1..N over the runs with a finite dev score (``runs`` = (dev, test, tie_key)).

    ``test_at_best_dev`` uses the runs that have both scores; it is null when any dev-scored run lacks a test
    score, since dropping it would change which run wins.
    """
    scored = [(float(d), t, k) for d, t, k in runs if finite([d])]
    if not scored:
        return None
    devs = [d for d, _, _ in scored]
    dodge, dodge_sd = evp_dodge(devs)
    with_test = [(d, float(t), k) for d, t, k in scored if finite([t])]
    return {
        "n_runs": len(scored),
        "n": list(range(1, len(scored) + 1)),
        "unbiased": evp_unbiased(devs),
        "dodge": dodge,
        "dodge_sd": dodge_sd,
        "test_at_best_dev": expected_test_at_best_dev(with_test) if len(with_test) == len(scored) else None,
    }


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


# --- tests between two configurations -----------------------------------------------------------------


def _run(test: Callable[[], Any]) -> Any:
    """A scipy test, or None when it cannot be computed on these samples (too few, all equal)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return test()
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return None


def _test_entry(name: str, result: Any, **extra: Any) -> dict[str, Any]:
    statistic = _float_or_none(getattr(result, "statistic", None)) if result is not None else None
    p = _float_or_none(getattr(result, "pvalue", None)) if result is not None else None
    return {"test": name, "statistic": statistic, "p": p, "p_holm": None, **extra}


def spread_test(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Brown-Forsythe (Levene centred on the median): robust to the bimodal scores that failed runs make.

    ``difference`` is the mean absolute deviation from the median of a minus that of b, the quantity the
    test compares: negative means a spreads less.
    """
    result = _run(lambda: stats.levene(a, b, center="median")) if len(a) >= 2 and len(b) >= 2 else None
    mad = lambda x: float(np.mean(np.abs(np.asarray(x) - np.median(x))))
    difference = mad(a) - mad(b) if len(a) and len(b) else None
    return _test_entry("Brown-Forsythe", result, difference=difference)


def failure_test(failed_a: int, n_a: int, failed_b: int, n_b: int) -> dict[str, Any]:
    """Fisher's exact test on failed versus not-failed counts (exact for the small counts of a sweep)."""
    result = _run(lambda: stats.fisher_exact([[failed_a, n_a - failed_a], [failed_b, n_b - failed_b]]))
    rate = lambda k, n: k / n if n else None
    ra, rb = rate(failed_a, n_a), rate(failed_b, n_b)
    return _test_entry("Fisher exact", result, difference=None if ra is None or rb is None else ra - rb)


def location_tests(a: Sequence[float], b: Sequence[float], paired: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Means and ranks: Welch's t and Mann-Whitney U, or, for scores paired by seed, the paired t-test and
    the Wilcoxon signed-rank test. ``difference`` is mean(a) - mean(b) (the mean of paired differences)."""
    difference = float(np.mean(a) - np.mean(b)) if len(a) and len(b) else None
    if paired:
        t = _run(lambda: stats.ttest_rel(a, b)) if len(a) >= 2 else None
        rank = _run(lambda: stats.wilcoxon(a, b)) if len(a) >= 1 else None
        return (_test_entry("paired t", t, difference=difference),
                _test_entry("Wilcoxon signed-rank", rank, difference=difference))  # fmt: skip
    t = _run(lambda: stats.ttest_ind(a, b, equal_var=False)) if len(a) >= 2 and len(b) >= 2 else None
    rank = _run(lambda: stats.mannwhitneyu(a, b, alternative="two-sided")) if len(a) and len(b) else None
    return (_test_entry("Welch t", t, difference=difference),
            _test_entry("Mann-Whitney U", rank, difference=difference))  # fmt: skip


def aso_eps_min(a: Sequence[float], b: Sequence[float], num_comparisons: int = 1) -> float | None:
    """Almost Stochastic Order (Dror et al. 2019) through ``deepsig``, when it is installed: eps_min for
    "a is stochastically better than b"; below 0.2 counts as evidence. deepsig's ``num_comparisons`` applies
    its Bonferroni correction over the table. None without deepsig or with under ASO_MIN_SCORES per side."""
    try:
        from deepsig import aso
    except ImportError:
        return None
    if min(len(a), len(b)) < ASO_MIN_SCORES:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eps = aso(list(a), list(b), num_samples=ASO_SAMPLES, num_bootstrap_iterations=ASO_BOOTSTRAP,
                  num_comparisons=max(1, num_comparisons), seed=BOOTSTRAP_SEED, show_progress=False,
                  num_jobs=1)  # fmt: skip
    return _float_or_none(eps)


def deepsig_available() -> bool:
    try:
        import deepsig  # noqa: F401
    except ImportError:
        return False
    return True


def compare(
    a: Sequence[tuple[Any, Any]],
    b: Sequence[tuple[Any, Any]],
    failed_a: int,
    failed_b: int,
    with_aso: bool = True,
    num_comparisons: int = 1,
) -> dict[str, Any]:
    """All tests of configuration a against reference b; ``a`` and ``b`` list each run's (seed key, score).

    When both ran the same seed keys (each once), the scores are paired by seed, over the seeds where both
    have a score. p_holm stays None here: Holm's correction runs over the whole table (``adjust_table``).
    """
    keys_a, keys_b = [k for k, _ in a], [k for k, _ in b]
    unique = len(set(keys_a)) == len(keys_a) and len(set(keys_b)) == len(keys_b)
    paired = bool(a) and unique and set(keys_a) == set(keys_b)
    all_a, all_b = finite([s for _, s in a]), finite([s for _, s in b])
    if paired:
        by_b = dict(b)
        pairs = [(s, by_b[k]) for k, s in sorted(a, key=lambda r: r[0]) if finite([s]) and finite([by_b[k]])]
        xa, xb = [float(p[0]) for p in pairs], [float(p[1]) for p in pairs]
    else:
        xa, xb = all_a, all_b
    mean, rank = location_tests(xa, xb, paired)
    return {
        "paired": paired,
        "n_scores": len(xa),
        "n_scores_reference": len(xb),
        "tests": {
            "spread": spread_test(all_a, all_b),
            "failures": failure_test(failed_a, len(a), failed_b, len(b)),
            "mean": mean,
            "rank": rank,
        },
        "aso_eps_min": aso_eps_min(xa, xb, num_comparisons) if with_aso else None,
    }


TEST_ORDER = ("spread", "failures", "mean", "rank")


def adjust_table(comparisons: Sequence[dict[str, Any] | None]) -> None:
    """Holm-correct every p-value of the table as one family (in place), then write each row's verdict."""
    slots = [(c, name) for c in comparisons if c and "tests" in c for name in TEST_ORDER]
    adjusted = holm([c["tests"][name]["p"] for c, name in slots])
    for (c, name), p in zip(slots, adjusted, strict=True):
        c["tests"][name]["p_holm"] = p
    for c in comparisons:
        if c and "tests" in c:
            c["verdict"] = verdict(c, c.get("reference_name") or "the reference")


def _p(p: float) -> str:
    return f"p={p:.2g}" if p >= 0.001 else "p<0.001"


def verdict(comparison: dict[str, Any], reference: str) -> str:
    """A short reading of a row's Holm-adjusted tests, e.g. "less spread than standard (p=0.03)"."""
    tests = comparison["tests"]
    significant = lambda name: tests[name]["p_holm"] is not None and tests[name]["p_holm"] < ALPHA
    parts = []
    if significant("spread"):
        word = "less" if (tests["spread"]["difference"] or 0) < 0 else "more"
        parts.append(f"{word} spread than {reference} ({_p(tests['spread']['p_holm'])})")
    if significant("failures"):
        word = "fewer" if (tests["failures"]["difference"] or 0) < 0 else "more"
        parts.append(f"{word} failed runs than {reference} ({_p(tests['failures']['p_holm'])})")
    location = [name for name in ("mean", "rank") if significant(name)]
    if location:
        word = "higher" if (tests["mean"]["difference"] or 0) > 0 else "lower"
        cited = "; ".join(f"{tests[n]['test']} {_p(tests[n]['p_holm'])}" for n in location)
        parts.append(f"{word} scores than {reference} ({cited})")
    eps = comparison.get("aso_eps_min")
    if eps is not None and eps < ASO_EVIDENCE:
        parts.append(f"almost stochastically better than {reference} (ASO eps_min={eps:.2f})")
    if parts:
        return "; ".join(parts)
    ps = [tests[n]["p_holm"] for n in TEST_ORDER if tests[n]["p_holm"] is not None]
    return "no evidence of a difference" + (f" (smallest Holm p={min(ps):.2g})" if ps else " (too few scores to test)")
