"""Tests between two configurations over their seeds (spread, failed runs, means, ranks, and Almost
Stochastic Order through deepsig when installed), Holm's correction over a table's tests, and the verdict
each row's adjusted tests support. Every test is scipy's; only Holm's step-down correction is written here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from blurb_lab.report.stats import BOOTSTRAP_SEED, finite, float_or_none

ALPHA = 0.05  # a Holm-adjusted p below this is reported as evidence in the verdict
ASO_EVIDENCE = 0.2  # Dror et al.: eps_min below this counts as (almost) stochastic dominance
# Fewer scores per side: no spread test. With two, each side's deviations from its median are equal, so the
# within-group variance is 0 and Brown-Forsythe's p is 0 whatever the scores.
SPREAD_MIN_SCORES = 3
ASO_MIN_SCORES = 5  # fewer scores per side: eps_min is not reported (3 vs 3 separated runs give 0.0)
ASO_SAMPLES = 1000  # deepsig's defaults: about 3 s per comparison on one core
ASO_BOOTSTRAP = 1000
TEST_ORDER = ("spread", "failures", "mean", "rank")  # the four tests of every comparison, in table order


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


def _run(test: Callable[[], Any]) -> Any:
    """A scipy test, or None when it cannot be computed on these samples (too few, all equal)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return test()
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return None


def _test_entry(name: str, result: Any, **extra: Any) -> dict[str, Any]:
    statistic = float_or_none(getattr(result, "statistic", None)) if result is not None else None
    p = float_or_none(getattr(result, "pvalue", None)) if result is not None else None
    return {"test": name, "statistic": statistic, "p": p, "p_holm": None, **extra}


def spread_test(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Brown-Forsythe (Levene centred on the median): robust to the bimodal scores that failed runs make.

    ``difference`` is the mean absolute deviation from the median of a minus that of b, the quantity the
    test compares: negative means a spreads less.
    """
    enough = min(len(a), len(b)) >= SPREAD_MIN_SCORES
    result = _run(lambda: stats.levene(a, b, center="median")) if enough else None
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
    return float_or_none(eps)


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
