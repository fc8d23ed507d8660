"""Expected validation performance (EVP): the best dev score a budget of n runs buys, and the test score
of the run it picks (Dodge et al. 2019; Tang et al. 2020's unbiased order-statistics estimator)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

from blurb_lab.report.stats import finite


class EvpCurves(TypedDict):
    """The EVP curves of one configuration, each indexed by n = 1..n_runs."""

    n_runs: int
    n: list[int]
    unbiased: list[float]  # E[max dev] among n runs, without replacement (Tang et al.)
    dodge: list[float]  # with replacement (Dodge et al.), and its sd
    dodge_sd: list[float]
    test_at_best_dev: list[float] | None  # E[test] of the best-dev run among n; None when a run lacks a test score


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


def expected_validation_performance(runs: Sequence[tuple[Any, Any, Any]]) -> EvpCurves | None:
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
