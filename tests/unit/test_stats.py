"""Stability statistics against reference computations: scipy called directly for tests and intervals,
exact fractions for the EVP estimators, hand-worked examples for Holm and the seed-grid decomposition;
then the summary files built from small results.json files, and one real sweep through the CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from blurb_lab.report import significance, stats
from blurb_lab.report.evp import evp_dodge, evp_unbiased, expected_test_at_best_dev, expected_validation_performance
from blurb_lab.report.gather import find_results
from blurb_lab.report.summary import summarise, write_summary

TEST = [0.61, 0.72, 0.55, 0.80, 0.68, 0.74, 0.31, 0.70]


# --- intervals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("statistic", ["mean", "std"])
def test_bootstrap_ci_is_scipys_bca_interval_with_seed_0(statistic: str) -> None:
    fn = np.mean if statistic == "mean" else (lambda x, axis: np.std(x, ddof=1, axis=axis))
    expected = sps.bootstrap((np.array(TEST),), fn, n_resamples=9999, confidence_level=0.95, method="BCa",
                             rng=np.random.default_rng(0)).confidence_interval  # fmt: skip
    got = stats.bootstrap_ci(TEST + [None, math.nan], statistic)  # non-finite values are dropped
    assert got == {"low": expected.low, "high": expected.high, "method": "BCa"}
    assert stats.bootstrap_ci(TEST, statistic) == got  # reproducible


def test_bootstrap_ci_is_none_when_it_cannot_say_anything() -> None:
    assert stats.bootstrap_ci([0.5, 0.7], "mean") is None  # n < 3
    assert stats.bootstrap_ci([0.5, 0.5, 0.5, 0.5], "std") is None  # constant
    assert stats.bootstrap_ci([0.5, None, math.inf], "mean") is None


def test_iqr_and_wilson_interval_are_scipys() -> None:
    assert stats.iqr(TEST) == pytest.approx(sps.iqr(TEST))
    assert stats.iqr([0.5]) is None
    for k, n in ((0, 10), (3, 10), (5, 5)):
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert stats.wilson_interval(k, n) == {"low": ci.low, "high": ci.high}
    assert stats.wilson_interval(0, 10)["high"] == pytest.approx(0.2775, abs=1e-4)  # 0 of 10 still allows 28%
    assert stats.wilson_interval(0, 0) is None


# --- Holm ---------------------------------------------------------------------------------------------


def test_holm_hand_worked() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max(0.06, 0.04) = 0.06
    assert significance.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = significance.holm([None, 0.2, 0.6, None])  # untestable entries are not in the family: m = 2
    assert adjusted[0] is None and adjusted[3] is None and adjusted[1:3] == pytest.approx([0.4, 0.6])
    assert significance.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1, and monotone
    assert significance.holm([]) == []


# --- expected validation performance -------------------------------------------------------------------

DEV = [Fraction(3, 10), Fraction(1, 2), Fraction(1, 2), Fraction(9, 10), Fraction(7, 10)]


def test_unbiased_evp_equals_the_mean_best_over_all_subsets_exactly() -> None:
    got = evp_unbiased(DEV)  # Fractions in, so the estimator's arithmetic is exact
    for n in range(1, len(DEV) + 1):
        subsets = list(itertools.combinations(DEV, n))
        assert got[n - 1] == sum((max(s) for s in subsets), Fraction(0)) / len(subsets)
    assert got[0] == sum(DEV) / len(DEV) and got[-1] == max(DEV)


def test_dodge_evp_and_its_sd_equal_draws_with_replacement_exactly() -> None:
    means, sds = evp_dodge(DEV)
    size = len(DEV)
    for n in range(1, size + 1):
        draws = list(itertools.product(DEV, repeat=n))  # all N^n equally likely draws with replacement
        mean = sum((max(d) for d in draws), Fraction(0)) / len(draws)
        second = sum((max(d) ** 2 for d in draws), Fraction(0)) / len(draws)
        assert means[n - 1] == pytest.approx(float(mean), abs=1e-12)
        assert sds[n - 1] == pytest.approx(math.sqrt(second - mean**2), abs=1e-12)


def test_expected_test_of_the_best_dev_run_exactly_with_a_tie_on_dev() -> None:
    # (dev, test, tie key): seeds 2 and 3 tie on dev; the lower seed (2) wins the tie
    dev_test = [("3/10", "1/10"), ("1/2", "2/5"), ("1/2", "3/5"), ("9/10", "4/5"), ("7/10", "1/5")]
    runs = [(Fraction(d), Fraction(t), seed) for seed, (d, t) in enumerate(dev_test, start=1)]
    got = expected_test_at_best_dev(runs)
    for n in range(1, len(runs) + 1):
        subsets = list(itertools.combinations(runs, n))
        picked = [max(s, key=lambda r: (r[0], -r[2]))[1] for s in subsets]
        assert got[n - 1] == sum(picked, Fraction(0)) / len(subsets)
    assert got[-1] == Fraction(4, 5)  # all runs: the best-dev run's test score


def test_evp_uses_runs_with_a_dev_score_and_needs_every_test_score_for_the_picked_curve() -> None:
    evp = expected_validation_performance([(0.5, 0.4, 1), (None, 0.9, 2), (0.7, 0.6, 3), (0.6, 0.5, 4)])
    assert evp["n_runs"] == 3 and evp["n"] == [1, 2, 3]
    assert evp["unbiased"] == pytest.approx([0.6, (0.6 + 0.7 + 0.7) / 3, 0.7])
    assert evp["test_at_best_dev"][-1] == pytest.approx(0.6)
    assert expected_validation_performance([(0.5, None, 1), (0.6, 0.5, 2)])["test_at_best_dev"] is None
    assert expected_validation_performance([(None, 0.5, 1)]) is None


# --- seed grid ---------------------------------------------------------------------------------------


def test_variance_decomposition_hand_worked_2x2() -> None:
    """init 1: data 1 -> 1, data 2 -> 3; init 2: data 1 -> 2, data 2 -> 6 (rows init, columns data).

    grand mean 3; row means 2, 4; column means 1.5, 4.5. SS_init = 2 * (1 + 1) = 4,
    SS_data = 2 * (2.25 + 2.25) = 9, residuals +-0.5 -> SS_res = 1, SS_total = 4 + 0 + 1 + 9 = 14.
    std over data, init fixed: (sqrt 2 + sqrt 8) / 2; std over init, data fixed: (sqrt .5 + sqrt 4.5) / 2.
    F(1, 1) has sf(x) = 1 - (2 / pi) atan(sqrt x).
    """
    cells = [(1, 1, 1.0), (1, 2, 3.0), (2, 1, 2.0), (2, 2, 6.0)]
    grid = stats.seed_grid(cells)
    assert grid.tolist() == [[1.0, 3.0], [2.0, 6.0]]
    got = stats.variance_decomposition(grid)
    assert (got["ss_init"], got["ss_data"], got["ss_residual"], got["ss_total"]) == pytest.approx((4, 9, 1, 14))
    assert (got["share_init"], got["share_data"], got["share_residual"]) == pytest.approx((4 / 14, 9 / 14, 1 / 14))
    assert got["std_over_data_given_init"] == pytest.approx((math.sqrt(2) + math.sqrt(8)) / 2)
    assert got["std_over_init_given_data"] == pytest.approx((math.sqrt(0.5) + math.sqrt(4.5)) / 2)
    assert (got["f_init"], got["f_data"]) == pytest.approx((4.0, 9.0))
    assert got["p_init"] == pytest.approx(1 - 2 / math.pi * math.atan(2))
    assert got["p_data"] == pytest.approx(1 - 2 / math.pi * math.atan(3))
    assert (got["n_init"], got["n_data"], got["df_residual"]) == (2, 2, 1)


def test_seed_grid_needs_a_full_grid_with_two_levels_of_each() -> None:
    assert stats.seed_grid([(1, 1, 0.5), (2, 2, 0.6), (3, 3, 0.7)]) is None  # a plain seed sweep
    assert stats.seed_grid([(1, 1, 0.5), (1, 2, 0.6), (2, 1, 0.7)]) is None  # a cell missing
    assert stats.seed_grid([(1, 1, 0.5), (1, 2, 0.6), (2, 1, 0.7), (2, 2, None)]) is None  # no score
    assert stats.seed_grid([(1, 1, 0.5), (1, 1, 0.6), (2, 1, 0.7), (2, 2, 0.8)]) is None  # repeated cell
    assert stats.seed_grid([(1, 1, 0.5), (1, 2, 0.6)]) is None  # one init level


# --- tests between two configurations ------------------------------------------------------------------

A = [0.80, 0.82, 0.79, 0.81, 0.83, 0.80, 0.78, 0.82]
B = [0.30, 0.90, 0.40, 0.95, 0.35, 0.10, 0.85, 0.92]


def test_unpaired_comparison_is_scipys_tests() -> None:
    got = significance.compare([((s,), x) for s, x in enumerate(A)], [((s + 100,), x) for s, x in enumerate(B)],
                               failed_a=0, failed_b=3, with_aso=False)  # fmt: skip
    tests = got["tests"]
    assert got["paired"] is False
    assert tests["spread"]["test"] == "Brown-Forsythe"
    assert tests["spread"]["p"] == pytest.approx(sps.levene(A, B, center="median").pvalue)
    assert tests["spread"]["difference"] < 0  # A spreads less
    assert tests["failures"]["p"] == pytest.approx(sps.fisher_exact([[0, 8], [3, 5]]).pvalue)
    assert tests["mean"]["test"] == "Welch t"
    assert tests["mean"]["p"] == pytest.approx(sps.ttest_ind(A, B, equal_var=False).pvalue)
    assert tests["rank"]["test"] == "Mann-Whitney U"
    assert tests["rank"]["p"] == pytest.approx(sps.mannwhitneyu(A, B, alternative="two-sided").pvalue)


def test_same_seeds_give_paired_tests() -> None:
    got = significance.compare(list(enumerate(A)), list(enumerate(B)), 0, 0, with_aso=False)
    assert got["paired"] is True and got["n_scores"] == len(A)
    assert got["tests"]["mean"]["test"] == "paired t"
    assert got["tests"]["mean"]["p"] == pytest.approx(sps.ttest_rel(A, B).pvalue)
    assert got["tests"]["rank"]["test"] == "Wilcoxon signed-rank"
    assert got["tests"]["rank"]["p"] == pytest.approx(sps.wilcoxon(A, B).pvalue)
    # a run without a score drops its pair only
    b = list(enumerate(B))
    b[2] = (2, None)
    got = significance.compare(list(enumerate(A)), b, 0, 0, with_aso=False)
    keep = [i for i in range(len(A)) if i != 2]
    assert got["paired"] and got["n_scores"] == len(keep)
    assert got["tests"]["mean"]["p"] == pytest.approx(sps.ttest_rel([A[i] for i in keep], [B[i] for i in keep]).pvalue)


def test_untestable_samples_give_none_not_errors() -> None:
    got = significance.compare([(1, 0.5), (2, 0.5)], [(1, 0.5), (2, 0.5)], 0, 0, with_aso=False)
    assert got["tests"]["mean"]["p"] is None and got["tests"]["spread"]["p"] is None


def test_no_spread_test_on_two_scores_a_side() -> None:
    """Two scores a side make Brown-Forsythe's within-group variance 0 (p = 0 for any scores)."""
    assert significance.spread_test([0.1, 0.9], [0.5, 0.52])["p"] is None
    three = significance.spread_test([0.1, 0.5, 0.9], [0.5, 0.51, 0.52])
    assert three["p"] == pytest.approx(sps.levene([0.1, 0.5, 0.9], [0.5, 0.51, 0.52], center="median").pvalue)


def test_aso_is_deepsigs_eps_min(monkeypatch: pytest.MonkeyPatch) -> None:
    deepsig = pytest.importorskip("deepsig")
    monkeypatch.setattr(significance, "ASO_SAMPLES", 100)  # deepsig's 1000 x 1000 takes seconds; the wiring is the test
    monkeypatch.setattr(significance, "ASO_BOOTSTRAP", 100)
    a, b = [x + 0.3 for x in A], A
    expected = deepsig.aso(a, b, num_samples=100, num_bootstrap_iterations=100, seed=0, show_progress=False)
    got = significance.aso_eps_min(a, b)
    assert got == pytest.approx(expected) and got < significance.ASO_EVIDENCE
    assert significance.aso_eps_min(a[:4], b[:4]) is None  # too few scores to say anything


def test_verdict_wording() -> None:
    def entry(name: str, p_holm: float | None, difference: float) -> dict:
        return {"test": name, "statistic": 1.0, "p": p_holm, "p_holm": p_holm, "difference": difference}

    tests = {"spread": entry("Brown-Forsythe", 0.031, -0.1), "failures": entry("Fisher exact", 0.2, 0.3),
             "mean": entry("Welch t", 0.04, 0.05), "rank": entry("Mann-Whitney U", 0.07, 0.05)}  # fmt: skip
    got = significance.verdict({"tests": tests, "aso_eps_min": 0.12}, "standard")
    assert got == ("less spread than standard (p=0.031); higher scores than standard (Welch t p=0.04); "
                   "almost stochastically better than standard (ASO eps_min=0.12)")  # fmt: skip
    tests["spread"]["p_holm"] = tests["mean"]["p_holm"] = 0.5
    got = significance.verdict({"tests": tests, "aso_eps_min": 0.6}, "standard")
    assert got == "no evidence of a difference (smallest Holm p=0.07)"
    tests["failures"].update(p_holm=0.01, difference=0.3)
    assert significance.verdict({"tests": tests}, "standard") == "more failed runs than standard (p=0.01)"


def test_verdicts_cite_holm_adjusted_p_values() -> None:
    spread = significance.compare(list(enumerate(A)), list(enumerate(B)), 0, 0, with_aso=False)
    same = significance.compare(list(enumerate(B)), list(enumerate(reversed(B))), 0, 0, with_aso=False)
    for c in (spread, same):
        c["reference_name"] = "standard"
    significance.adjust_table([spread, same])
    raw = [c["tests"][name]["p"] for c in (spread, same) for name in significance.TEST_ORDER]
    holm = [c["tests"][name]["p_holm"] for c in (spread, same) for name in significance.TEST_ORDER]
    assert holm == pytest.approx(significance.holm(raw))
    p = spread["tests"]["spread"]["p_holm"]
    assert p < 0.001 and spread["verdict"].startswith("less spread than standard (p<0.001)")
    assert same["verdict"].startswith("no evidence of a difference")


# --- summaries built from results.json files ------------------------------------------------------------


def result(strategy: str, seed: int, test: float | None, dev: float | None, status: str = "ok", **extra: Any) -> dict:
    return {"status": status, "task": "biosses", "model": "minilm", "strategy": strategy, "seed": seed,
            "metric": "pearson", "dev_score": dev, "test_score": test, "dev_curve": [dev],
            "config_key": f"key-{strategy}", "config_label": f"minilm/biosses/{strategy}", **extra}  # fmt: skip


def write_results(root: Path, results: list[dict]) -> Path:
    for i, r in enumerate(results):
        (root / str(i)).mkdir(parents=True)
        (root / str(i) / "results.json").write_text(json.dumps(r))
    return root


def study_results() -> list[dict]:
    refs = {"trivial_dev_score": 0.0, "trivial_test_score": 0.0, "zero_shot_dev_score": 0.73,
            "zero_shot_test_score": 0.847}  # fmt: skip
    out = []
    for seed, (a, b) in enumerate(zip(A, B, strict=True), start=1):
        out.append(result("reinit_top", seed, a, a - 0.01, **refs))
        status = "failed" if b < 0.5 else "ok"
        kind = {"failure_kind": "no_optimisation" if b < 0.2 else "no_generalisation"} if status == "failed" else {}
        out.append(result("standard", seed, b, b + 0.02, status, **refs, **kind))
    # an old-style configuration: only trivial_dev_score, one diverged run, and below trivial on test
    for seed in (1, 2, 3):
        out.append(result("freeze_lower", seed, -0.1 * seed, 0.01, "diverged" if seed == 3 else "ok",
                          trivial_dev_score=0.0))  # fmt: skip
    return out


def test_summary_files_carry_intervals_tests_evp_and_references(tmp_path: Path) -> None:
    sweep = write_results(tmp_path / "sweep", study_results())
    results = find_results([sweep])
    rows = summarise(results, aso=False)
    write_summary(sweep, rows, aso=False)
    summary = json.loads((sweep / "summary.json").read_text())
    by = {r["strategy"]: r for r in summary["configurations"]}

    reinit = by["reinit_top"]
    assert reinit["test"]["mean_ci"] == stats.bootstrap_ci(A, "mean")
    assert reinit["test"]["std_ci"] == stats.bootstrap_ci(A, "std")
    assert reinit["dev"]["mean_ci"] == stats.bootstrap_ci([a - 0.01 for a in A], "mean")
    assert reinit["test"]["iqr"] == pytest.approx(sps.iqr(A))
    standard = by["standard"]
    assert standard["n_failed"] == 4 and standard["failure_kinds"]["no_optimisation"] == 1
    assert standard["failure_kinds"]["no_generalisation"] == 3
    assert standard["failed_rate_ci"] == stats.wilson_interval(4, 8)
    assert by["freeze_lower"]["failure_kinds"]["diverged"] == 1

    comparison = reinit["comparison"]
    assert comparison["reference"] == "minilm/biosses/standard" and comparison["paired"] is True
    assert comparison["tests"]["mean"]["p"] == pytest.approx(sps.ttest_rel(A, B).pvalue)
    assert comparison["tests"]["spread"]["p"] == pytest.approx(sps.levene(A, B, center="median").pvalue)
    assert comparison["verdict"].startswith("less spread than standard")
    assert standard["comparison"]["verdict"] == "reference"
    assert summary["comparison_settings"]["correction"] == "holm"
    assert summary["comparison_settings"]["n_tests"] == 8  # reinit_top and freeze_lower, 4 tests each

    assert reinit["evp"]["unbiased"] == pytest.approx(evp_unbiased([a - 0.01 for a in A]))
    assert reinit["e_max_dev_n5"] == pytest.approx(reinit["evp"]["unbiased"][4])
    assert by["freeze_lower"]["e_max_dev_n5"] is None  # fewer than 5 runs

    zero_shot = {"minilm": {"dev": 0.73, "test": 0.847}}
    expected = {"metric": "pearson", "trivial_dev": 0.0, "trivial_test": 0.0, "zero_shot": zero_shot}
    assert summary["reference_scores"] == {"biosses": expected}
    assert reinit["beats_trivial_test"] is True
    assert by["freeze_lower"]["beats_trivial_test"] is None  # old results.json: no trivial test score

    table = list(csv.DictReader(io.StringIO((sweep / "summary.csv").read_text())))
    header = (sweep / "summary.csv").read_text().splitlines()[0]
    assert header.startswith("config,model,task,strategy,metric,n,n_failed,dev_mean,dev_std")  # old columns first
    row = next(r for r in table if r["strategy"] == "reinit_top")
    assert float(row["E[max dev] n=5"]) == pytest.approx(reinit["e_max_dev_n5"])
    assert row["beats_trivial_test"] == "True" and row["paired"] == "True"
    assert float(row["test_std_ci_low"]) == pytest.approx(reinit["test"]["std_ci"]["low"])
    assert row["verdict"] == comparison["verdict"]
    markdown = (sweep / "summary.md").read_text()
    for text in ("E[max dev] n=5", "Brown-Forsythe", "Wilson", "Reference scores", "Expected validation", "0.8470"):
        assert text in markdown


def test_pruned_and_crashed_runs_are_counted_apart_and_enter_no_statistic(tmp_path: Path) -> None:
    finished = [result("standard", 1, 0.5, 0.6), result("standard", 2, 0.7, 0.8),
                result("standard", 3, 0.1, 0.0, "failed", failure_kind="no_generalisation")]  # fmt: skip
    unfinished = [result("standard", 4, None, 0.9, "pruned", pruned_at_epoch=0),
                   result("standard", 5, None, None, "crashed", error="RuntimeError: boom"),
                   result("standard", 6, None, None, "failed", error="ValueError: an old crash")]  # fmt: skip
    sweep = write_results(tmp_path / "sweep", finished + unfinished)
    (row,) = summarise(find_results([sweep]), aso=False)
    assert (row.n, row.n_failed, row.n_pruned, row.n_crashed) == (3, 1, 1, 2)
    assert row.seeds == [1, 2, 3] and row.dev.max == pytest.approx(0.8)  # the pruned 0.9 is not in it
    assert row.test.mean == pytest.approx(1.3 / 3) and row.failed_rate_ci == stats.wilson_interval(1, 3)
    write_summary(sweep, [row], aso=False)
    table = next(csv.DictReader(io.StringIO((sweep / "summary.csv").read_text())))
    assert (table["n"], table["n_failed"], table["n_pruned"], table["n_crashed"]) == ("3", "1", "1", "2")
    assert "| pruned | crashed |" in (sweep / "summary.md").read_text()


def test_a_row_below_trivial_on_test_is_flagged(tmp_path: Path) -> None:
    results = [result("standard", s, 0.1 * s, 0.2, trivial_dev_score=0.0, trivial_test_score=0.25) for s in (1, 2, 3)]
    sweep = write_results(tmp_path / "sweep", results)
    rows = summarise(find_results([sweep]), aso=False)
    write_summary(sweep, rows)
    (row,) = json.loads((sweep / "summary.json").read_text())["configurations"]
    assert row["test"]["mean"] == pytest.approx(0.2) and row["beats_trivial_test"] is False
    assert "⚠ ≤ trivial" in (sweep / "summary.md").read_text()
    assert "False" in (sweep / "summary.csv").read_text().splitlines()[1]


def test_report_reference_option_picks_another_configuration(tmp_path: Path) -> None:
    results = study_results()
    rows = summarise(results, reference="reinit_top", aso=False)
    by = {r.strategy: r.comparison for r in rows}
    assert by["standard"]["reference"] == "minilm/biosses/reinit_top"
    assert by["standard"]["verdict"].startswith("more spread than reinit_top")
    assert by["reinit_top"]["verdict"] == "reference"
    by_label = {
        r.strategy: r.comparison for r in summarise(results, reference="minilm/biosses/freeze_lower", aso=False)
    }
    assert by_label["reinit_top"]["reference"] == "minilm/biosses/freeze_lower"
    assert by_label["standard"]["reference_name"] == "minilm/biosses/freeze_lower"
    nowhere = {r.strategy: r.comparison for r in summarise(results, reference="nope", aso=False)}
    assert nowhere["reinit_top"]["verdict"] == "no reference configuration"


def test_default_reference_keeps_the_other_overrides(tmp_path: Path) -> None:
    results = []
    for lr in ("1e-5", "3e-5"):
        for strategy in ("standard", "reinit_top"):
            for seed in (1, 2, 3):
                r = result(strategy, seed, 0.5 + 0.01 * seed, 0.5)
                r.update(config_key=f"{strategy}-{lr}", config_label=f"minilm/biosses/{strategy} optim.lr={lr}")
                results.append(r)
    rows = {r.config: r for r in summarise(results, aso=False)}
    got = rows["minilm/biosses/reinit_top optim.lr=3e-5"].comparison["reference"]
    assert got == "minilm/biosses/standard optim.lr=3e-5"


def test_seed_grid_gives_a_variance_decomposition_in_the_summary(tmp_path: Path) -> None:
    cells = {(1, 1): 1.0, (1, 2): 3.0, (2, 1): 2.0, (2, 2): 6.0}
    results = [result("standard", 1, score, score, seed_init=i, seed_data=d) for (i, d), score in cells.items()]
    sweep = write_results(tmp_path / "grid", results)
    rows = summarise(find_results([sweep]), aso=False)
    write_summary(sweep, rows)
    (row,) = json.loads((sweep / "summary.json").read_text())["configurations"]
    assert row["seed_init"] == [1, 1, 2, 2] and row["seed_data"] == [1, 2, 1, 2]
    test = row["seed_variance"]["test"]
    assert (test["share_init"], test["share_data"]) == pytest.approx((4 / 14, 9 / 14))
    assert "Variance by seed source" in (sweep / "summary.md").read_text()
    assert float(next(csv.DictReader(io.StringIO((sweep / "summary.csv").read_text())))["anova_share_data"]) == (
        pytest.approx(9 / 14)
    )


# --- the real CLI, end to end --------------------------------------------------------------------------


def test_seed_table_prints_each_runs_untrained_start_beside_the_references() -> None:
    from blurb_lab.report.markdown import to_seed_table

    base = {"status": "ok", "dev_score": 0.8, "test_score": 0.85, "trivial_test_score": 0.0}
    runs = [
        {**base, "config_label": "cross", "seed": 1, "zero_shot_test_score": 0.847,
         "pair_head": {"mode": "cosine", "start_test_score": 0.78}},
        {**base, "config_label": "gad", "seed": 1, "zero_shot_test_score": None},
    ]  # fmt: skip
    header, _, cross, gad = to_seed_table(runs).splitlines()
    assert header.endswith("| trivial test | zero-shot test | start test |")
    assert cross.endswith("| 0.8500 | 0.0000 | 0.8470 | 0.7800 |") and gad.endswith("| 0.0000 | – | – |")
