"""The summary as Markdown: the per-seed table printed at the end of a sweep, and summary.md's main table
followed by its sections (intervals and failed runs, reference scores, comparisons, EVP, seed sources)."""

from __future__ import annotations

from typing import Any

from blurb_lab.report import significance
from blurb_lab.report.gather import run_sort_key
from blurb_lab.report.rows import SummaryRow, reference_scores
from blurb_lab.report.stats import Interval


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _ci(interval: Interval | None, digits: int = 3) -> str:
    return "–" if interval is None else f"[{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"


def _trivial_cell(row: SummaryRow) -> str:
    return {True: "> trivial", False: "⚠ ≤ trivial", None: "–"}[row.beats_trivial_test]


def to_seed_table(results: list[dict[str, Any]]) -> str:
    """One line per run: its scores beside the references it must beat (printed at the end of a sweep);
    `start test` is the run's own head before any training step, where the head starts fitted
    (model.pair_head=cosine)."""
    lines = [
        "| configuration | seed | status | dev | test | trivial test | zero-shot test | start test |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r.get("config_label", ""), run_sort_key(r))):
        scores = " | ".join(_fmt(r.get(f"{k}_score")) for k in ("dev", "test", "trivial_test", "zero_shot_test"))
        start = _fmt((r.get("pair_head") or {}).get("start_test_score"))
        lines.append(f"| {r.get('config_label')} | {r.get('seed')} | {r.get('status')} | {scores} | {start} |")
    return "\n".join(lines) + "\n"


def to_markdown(rows: list[SummaryRow]) -> str:
    """The main table (its first ten columns as before), then intervals, references, tests, EVP, seed sources."""
    lines = [
        "| configuration | metric | n | failed | dev mean | dev std | test mean | test std | test min | test max "
        "| test mean 95% CI | test std 95% CI | test IQR | E[max dev] n=5 | vs trivial (test) | pruned | crashed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, t = r.dev, r.test
        lines.append(
            f"| {r.config} | {r.metric} | {r.n} | {r.n_failed} | {_fmt(d.mean)} | "
            f"{_fmt(d.std)} | {_fmt(t.mean)} | {_fmt(t.std)} | {_fmt(t.min)} | {_fmt(t.max)} | "
            f"{_ci(t.mean_ci)} | {_ci(t.std_ci)} | {_fmt(t.iqr)} | "
            f"{_fmt(r.e_max_dev_n5)} | {_trivial_cell(r)} | {r.n_pruned} | {r.n_crashed} |"
        )
    return (
        "\n".join(lines)
        + "\n"
        + "".join(part(rows) for part in (_md_intervals, _md_references, _md_comparisons, _md_evp, _md_seed_variance))
    )


def _md_intervals(rows: list[SummaryRow]) -> str:
    lines = [
        "\n## Dev intervals and failed runs\n",
        "| configuration | dev mean 95% CI | dev std 95% CI | dev IQR | failed | failed rate 95% CI (Wilson) "
        "| diverged | no optimisation | no generalisation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, kinds = r.dev, r.failure_kinds
        unspecified = f" ({kinds['unspecified']} of unrecorded kind)" if kinds.get("unspecified") else ""
        lines.append(
            f"| {r.config} | {_ci(d.mean_ci)} | {_ci(d.std_ci)} | {_fmt(d.iqr)} | "
            f"{r.n_failed}/{r.n}{unspecified} | {_ci(r.failed_rate_ci, 2)} | {kinds['diverged']} | "
            f"{kinds['no_optimisation']} | {kinds['no_generalisation']} |"
        )
    return "\n".join(lines) + "\n"


def _md_references(rows: list[SummaryRow]) -> str:
    refs = reference_scores(rows)
    header = "| task | metric | trivial dev | trivial test | zero-shot (model): dev / test |"
    lines = ["\n## Reference scores\n", header, "|---|---|---|---|---|"]
    for task, ref in refs.items():
        zero = "; ".join(f"{m}: {_fmt(z['dev'])} / {_fmt(z['test'])}" for m, z in ref["zero_shot"].items()) or "–"
        lines.append(
            f"| {task} | {ref['metric']} | {_fmt(ref['trivial_dev'])} | {_fmt(ref['trivial_test'])} | {zero} |"
        )
    below = [r.config for r in rows if r.beats_trivial_test is False]
    if below:
        lines.append(f"\n⚠ test mean not above the trivial predictor's test score: {', '.join(below)}.")
    return "\n".join(lines) + "\n"


def _p_cell(entry: dict[str, Any], with_name: bool = False) -> str:
    name = f"{entry['test']} " if with_name else ""
    if entry["p_holm"] is None:
        return f"{name}–"
    return f"{name}{entry['p_holm']:.3g} (raw {entry['p']:.3g})"


def _md_comparisons(rows: list[SummaryRow]) -> str:
    compared = [r for r in rows if r.tested]
    if not compared:
        return ""
    family = len(significance.TEST_ORDER) * len(compared)
    lines = [
        "\n## Comparisons with the reference configuration\n",
        f"Holm-adjusted p-values (over all {family} tests in this table; raw p in brackets); the verdict cites "
        f"Holm p < {significance.ALPHA}. Scores are paired by seed where both configurations ran the same seeds. "
        "With 5-10 seeds only large differences can show; 'no evidence' is not evidence of no difference.\n",
        "| configuration | reference | spread: Brown-Forsythe | failed: Fisher exact | mean | ranks | ASO ε_min "
        "| verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in compared:
        c = r.comparison or {}
        tests = c["tests"]
        eps = "–" if c.get("aso_eps_min") is None else f"{c['aso_eps_min']:.2f}"
        lines.append(
            f"| {r.config} | {c['reference']} | {_p_cell(tests['spread'])} | {_p_cell(tests['failures'])} | "
            f"{_p_cell(tests['mean'], True)} | {_p_cell(tests['rank'], True)} | {eps} | {c['verdict']} |"
        )
    if not significance.deepsig_available():
        lines.append("\nASO ε_min needs the optional package `deepsig` (not installed).")
    elif all((r.comparison or {}).get("aso_eps_min") is None for r in compared):
        lines.append(
            f"\nASO ε_min not computed (report.aso=false, or fewer than {significance.ASO_MIN_SCORES} scores per side)."
        )
    else:
        evidence = significance.ASO_EVIDENCE
        lines.append(
            f"\nASO ε_min (deepsig, Bonferroni over the {len(compared)} comparisons): below {evidence} the row is "
            "almost stochastically better than its reference."
        )
    return "\n".join(lines) + "\n"


def _md_evp(rows: list[SummaryRow]) -> str:
    with_evp = [r for r in rows if r.evp]
    if not with_evp:
        return ""
    lines = [
        "\n## Expected validation performance\n",
        "Expected best dev score among n runs (unbiased order-statistics estimator, Tang et al. 2020; Dodge et "
        "al. 2019's with-replacement estimator ± 1 sd at n = N), and the expected test score of the run picked by "
        "best dev among n.\n",
        "| configuration | runs | E[max dev], n = 1, 2, … | Dodge n=N (± sd) | E[test of best-dev run], n = 1, 2, … |",
        "|---|---|---|---|---|",
    ]
    for r in with_evp:
        e = r.evp
        series = lambda xs: " / ".join(f"{x:.3f}" for x in xs[:10]) + (" / …" if len(xs) > 10 else "")
        picked = series(e["test_at_best_dev"]) if e["test_at_best_dev"] else "–"
        lines.append(
            f"| {r.config} | {e['n_runs']} | {series(e['unbiased'])} | {e['dodge'][-1]:.3f} ± "
            f"{e['dodge_sd'][-1]:.3f} | {picked} |"
        )
    return "\n".join(lines) + "\n"


def _md_seed_variance(rows: list[SummaryRow]) -> str:
    grids = [(r, split, v) for r in rows if r.seed_variance for split, v in r.seed_variance.items()]
    if not grids:
        return ""
    lines = [
        "\n## Variance by seed source (seed_init x seed_data grid)\n",
        "| configuration | score | grid | std over data orders (init fixed) | std over inits (data fixed) | total std "
        "| ANOVA share init / data / residual | F-test p init / data |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r, split, v in grids:
        share = " / ".join(
            "–" if v[k] is None else f"{v[k]:.1%}" for k in ("share_init", "share_data", "share_residual")
        )
        ps = " / ".join("–" if v[k] is None else f"{v[k]:.3g}" for k in ("p_init", "p_data"))
        lines.append(
            f"| {r.config} | {split} | {v['n_init']}x{v['n_data']} | {v['std_over_data_given_init']:.4f} | "
            f"{v['std_over_init_given_data']:.4f} | {v['std_total']:.4f} | {share} | {ps} |"
        )
    return "\n".join(lines) + "\n"
