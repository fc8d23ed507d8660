"""Aggregate results.json files into per-configuration statistics over seeds."""

from __future__ import annotations

import json
import logging
import math
import statistics
from pathlib import Path
from typing import Any

from blurb_lab.identity import configuration_key
from blurb_lab.report import stats
from blurb_lab.results import CRASHED, RESULTS_FILE, atomic_write_text, outcome, write_json

log = logging.getLogger(__name__)


# Runs that did not run to their end: counted in their own columns, kept out of every statistic.
UNFINISHED = ("pruned", CRASHED)


def identity_key(result: dict[str, Any]) -> str:
    """The configuration a run belongs to, recomputed from its hparams with today's identity rules
    (so runs written before a rule changed still group with new ones), else its stored config_key."""
    hparams = result.get("hparams")
    return configuration_key(hparams) if isinstance(hparams, dict) else result["config_key"]


def find_results(dirs: list[Path]) -> list[dict[str, Any]]:
    """Every readable results.json under the given dirs (unreadable ones are skipped, with a warning)."""
    out = []
    for folder in dirs:
        for path in sorted(folder.rglob(RESULTS_FILE)):
            try:
                result = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                log.warning("skipping unreadable %s: %s", path, exc)
                continue
            if "config_key" in result:
                result["_dir"] = str(path.parent)
                result["config_key"] = identity_key(result)
                out.append(result)
    return out


def _stats(values: list[float | None]) -> dict[str, Any]:
    """Location and spread of one score over seeds, with 95% bootstrap intervals of the mean and the std."""
    finite = stats.finite(values)
    if not finite:
        return {"mean": None, "std": None, "min": None, "median": None, "max": None, "iqr": None,
                "mean_ci": None, "std_ci": None}  # fmt: skip
    return {
        "mean": statistics.fmean(finite),
        "std": statistics.stdev(finite) if len(finite) > 1 else None,
        "min": min(finite),
        "median": statistics.median(finite),
        "max": max(finite),
        "iqr": stats.iqr(finite),
        "mean_ci": stats.bootstrap_ci(finite, "mean"),
        "std_ci": stats.bootstrap_ci(finite, "std"),
    }


def run_key(result: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(seed, seed_init, seed_data) of a run; the two sub-seeds default to the master seed, as in training."""
    seed = result.get("seed")
    sub = lambda name: seed if result.get(name) is None else result[name]
    return seed, sub("seed_init"), sub("seed_data")


def run_sort_key(result: dict[str, Any]) -> tuple[tuple[int, Any], ...]:
    """Runs in seed order (numbers numerically); any mix of seed types still sorts."""
    return tuple((0, v) if isinstance(v, int | float) else (1, str(v)) for v in run_key(result))


def failure_kinds(members: list[dict[str, Any]]) -> dict[str, int]:
    """Failed runs by cause (Mosbach et al.): diverged, no_optimisation, no_generalisation; `unspecified`
    for failed runs written before results.json carried a failure_kind."""
    counts = dict.fromkeys((*stats.FAILURE_KINDS, "unspecified"), 0)
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


def _seed_variance(members: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Init versus data-order decomposition, for each score whose runs form a seed_init x seed_data grid."""
    out = {}
    for split in ("test", "dev"):
        grid = stats.seed_grid([(run_key(r)[1], run_key(r)[2], r.get(f"{split}_score")) for r in members])
        if grid is not None:
            out[split] = stats.variance_decomposition(grid)
    return out or None


def summarise(results: list[dict[str, Any]], reference: str | None = None, aso: bool = True) -> list[dict[str, Any]]:
    """One row per configuration (everything but the seeds), best mean test score first, each compared with
    its reference configuration (see ``compare_rows``; ``aso``: also ASO eps_min when deepsig is installed).
    Pruned and crashed runs are counted (n_pruned, n_crashed) but enter no statistic, n included."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(result["config_key"], []).append(result)
    rows = []
    for key, runs in groups.items():
        runs.sort(key=run_sort_key)
        members = [r for r in runs if outcome(r) not in UNFINISHED]
        first = (members or runs)[0]
        n_failed = sum(r["status"] != "ok" for r in members)
        test = _stats([r.get("test_score") for r in members])
        evp = stats.expected_validation_performance([(r.get("dev_score"), r.get("test_score"), run_sort_key(r))
                                                     for r in members])  # fmt: skip
        references = {
            "trivial_dev": _first_finite(members, "trivial_dev_score"),
            "trivial_test": _first_finite(members, "trivial_test_score"),
            "zero_shot_dev": _first_finite(members, "zero_shot_dev_score"),
            "zero_shot_test": _first_finite(members, "zero_shot_test_score"),
        }
        beats = None
        if test["mean"] is not None and references["trivial_test"] is not None:
            beats = test["mean"] > references["trivial_test"]
        rows.append(
            {
                "config": first["config_label"],
                "config_key": key,
                "model": first["model"],
                "task": first["task"],
                "strategy": first["strategy"],
                "metric": first["metric"],
                "n": len(members),
                "n_failed": n_failed,
                "n_pruned": sum(outcome(r) == "pruned" for r in runs),
                "n_crashed": sum(outcome(r) == CRASHED for r in runs),
                "seeds": [r["seed"] for r in members],
                "dev": _stats([r.get("dev_score") for r in members]),
                "test": test,
                "test_scores": [r.get("test_score") for r in members],
                "dev_scores": [r.get("dev_score") for r in members],
                "seed_init": [run_key(r)[1] for r in members],
                "seed_data": [run_key(r)[2] for r in members],
                "statuses": [r.get("status") for r in members],
                "failed_rate_ci": stats.wilson_interval(n_failed, len(members)),
                "failure_kinds": failure_kinds(members),
                "e_max_dev_n5": evp["unbiased"][4] if evp and evp["n_runs"] >= EVP_COLUMN_N else None,
                "evp": evp,
                "seed_variance": _seed_variance(members),
                "reference_scores": references,
                "beats_trivial_test": beats,
                "comparison": None,
            }
        )
    rows.sort(key=lambda r: -math.inf if r["test"]["mean"] is None else r["test"]["mean"], reverse=True)
    compare_rows(rows, reference, aso)
    return rows


EVP_COLUMN_N = 5  # the summary's `E[max dev] n=5` column


def _bare_label(row: dict[str, Any], strategy: str) -> str:
    """The label this row would have with another strategy and the same other overrides."""
    base = f"{row['model']}/{row['task']}/{row['strategy']}"
    extras = row["config"][len(base) :] if row["config"].startswith(base) else ""
    return f"{row['model']}/{row['task']}/{strategy}{extras}"


def find_reference(row: dict[str, Any], rows: list[dict[str, Any]], reference: str | None) -> dict[str, Any] | None:
    """The configuration a row is compared with.

    Default: strategy=standard for the same task and model, with the same other overrides when such a run
    exists, else the only (or the override-free) standard configuration. ``reference`` may name a
    configuration label (the reference for every row of its task and metric; rows of other tasks keep the
    default) or another strategy (used in place of standard).
    """
    exact = [r for r in rows if r["config"] == reference] if reference is not None else []
    if exact:
        if (exact[0]["task"], exact[0]["metric"]) == (row["task"], row["metric"]):
            return exact[0]
        reference = None
    strategy = reference or "standard"
    candidates = [r for r in rows if (r["task"], r["model"], r["strategy"]) == (row["task"], row["model"], strategy)]
    for label in (_bare_label(row, strategy), f"{row['model']}/{row['task']}/{strategy}"):
        match = [r for r in candidates if r["config"] == label]
        if match:
            return match[0]
    return candidates[0] if len(candidates) == 1 else None


def compare_rows(rows: list[dict[str, Any]], reference: str | None = None, aso: bool = True) -> None:
    """Fill each row's ``comparison`` (in place): tests against its reference, Holm-adjusted over the table."""
    if reference is not None and not any(r["config"] == reference or r["strategy"] == reference for r in rows):
        log.warning("report.reference=%s names no configuration or strategy of these results", reference)
    with_aso = aso and stats.deepsig_available()
    pairs = [(row, find_reference(row, rows, reference)) for row in rows]
    n_compared = sum(1 for row, ref in pairs if ref is not None and ref is not row)
    comparisons = []
    for row, ref in pairs:
        if ref is None:
            row["comparison"] = {"reference": None, "verdict": "no reference configuration"}
            continue
        name = ref["config"] if reference is not None and ref["config"] == reference else ref["strategy"]
        if ref is row:
            row["comparison"] = {"reference": ref["config"], "reference_name": name, "verdict": "reference"}
            continue
        if not row["n"] or not ref["n"]:  # every run pruned or crashed: nothing to test
            row["comparison"] = {"reference": ref["config"], "reference_name": name, "verdict": "no finished runs"}
            continue
        result = stats.compare(_keyed(row), _keyed(ref), row["n_failed"], ref["n_failed"], with_aso, n_compared)
        row["comparison"] = {"reference": ref["config"], "reference_name": name, **result}
        comparisons.append(row["comparison"])
    stats.adjust_table(comparisons)


def _keyed(row: dict[str, Any]) -> list[tuple[Any, Any]]:
    keys = zip(row["seeds"], row["seed_init"], row["seed_data"], strict=True)
    return list(zip(keys, row["test_scores"], strict=True))


def reference_scores(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """summary.json's `reference_scores`: per task the trivial predictor's dev and test scores, and per model
    the zero-shot scores where the task has them (null otherwise)."""
    out: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: (r["task"], r["model"])):
        refs = row["reference_scores"]
        task = out.setdefault(row["task"], {"metric": row["metric"], "trivial_dev": None, "trivial_test": None,
                                            "zero_shot": {}})  # fmt: skip
        for key in ("trivial_dev", "trivial_test"):
            if task[key] is None:
                task[key] = refs[key]
        if refs["zero_shot_dev"] is not None or refs["zero_shot_test"] is not None:
            task["zero_shot"].setdefault(row["model"], {"dev": refs["zero_shot_dev"], "test": refs["zero_shot_test"]})
    return out


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _ci(interval: dict[str, Any] | None, digits: int = 3) -> str:
    return "–" if interval is None else f"[{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"


def _trivial_cell(row: dict[str, Any]) -> str:
    return {True: "> trivial", False: "⚠ ≤ trivial", None: "–"}[row["beats_trivial_test"]]


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


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The main table (its first ten columns as before), then intervals, references, tests, EVP, seed sources."""
    lines = [
        "| configuration | metric | n | failed | dev mean | dev std | test mean | test std | test min | test max "
        "| test mean 95% CI | test std 95% CI | test IQR | E[max dev] n=5 | vs trivial (test) | pruned | crashed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, t = r["dev"], r["test"]
        lines.append(
            f"| {r['config']} | {r['metric']} | {r['n']} | {r['n_failed']} | {_fmt(d['mean'])} | "
            f"{_fmt(d['std'])} | {_fmt(t['mean'])} | {_fmt(t['std'])} | {_fmt(t['min'])} | {_fmt(t['max'])} | "
            f"{_ci(t.get('mean_ci'))} | {_ci(t.get('std_ci'))} | {_fmt(t.get('iqr'))} | "
            f"{_fmt(r.get('e_max_dev_n5'))} | {_trivial_cell(r)} | {r.get('n_pruned', 0)} | {r.get('n_crashed', 0)} |"
        )
    return (
        "\n".join(lines)
        + "\n"
        + "".join(part(rows) for part in (_md_intervals, _md_references, _md_comparisons, _md_evp, _md_seed_variance))
    )


def _md_intervals(rows: list[dict[str, Any]]) -> str:
    lines = [
        "\n## Dev intervals and failed runs\n",
        "| configuration | dev mean 95% CI | dev std 95% CI | dev IQR | failed | failed rate 95% CI (Wilson) "
        "| diverged | no optimisation | no generalisation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, kinds = r["dev"], r["failure_kinds"]
        unspecified = f" ({kinds['unspecified']} of unrecorded kind)" if kinds.get("unspecified") else ""
        lines.append(
            f"| {r['config']} | {_ci(d.get('mean_ci'))} | {_ci(d.get('std_ci'))} | {_fmt(d.get('iqr'))} | "
            f"{r['n_failed']}/{r['n']}{unspecified} | {_ci(r['failed_rate_ci'], 2)} | {kinds['diverged']} | "
            f"{kinds['no_optimisation']} | {kinds['no_generalisation']} |"
        )
    return "\n".join(lines) + "\n"


def _md_references(rows: list[dict[str, Any]]) -> str:
    refs = reference_scores(rows)
    header = "| task | metric | trivial dev | trivial test | zero-shot (model): dev / test |"
    lines = ["\n## Reference scores\n", header, "|---|---|---|---|---|"]
    for task, ref in refs.items():
        zero = "; ".join(f"{m}: {_fmt(z['dev'])} / {_fmt(z['test'])}" for m, z in ref["zero_shot"].items()) or "–"
        lines.append(
            f"| {task} | {ref['metric']} | {_fmt(ref['trivial_dev'])} | {_fmt(ref['trivial_test'])} | {zero} |"
        )
    below = [r["config"] for r in rows if r["beats_trivial_test"] is False]
    if below:
        lines.append(f"\n⚠ test mean not above the trivial predictor's test score: {', '.join(below)}.")
    return "\n".join(lines) + "\n"


def _p_cell(entry: dict[str, Any], with_name: bool = False) -> str:
    name = f"{entry['test']} " if with_name else ""
    if entry["p_holm"] is None:
        return f"{name}–"
    return f"{name}{entry['p_holm']:.3g} (raw {entry['p']:.3g})"


def _md_comparisons(rows: list[dict[str, Any]]) -> str:
    compared = [r for r in rows if r["comparison"] and "tests" in r["comparison"]]
    if not compared:
        return ""
    family = 4 * len(compared)
    lines = [
        "\n## Comparisons with the reference configuration\n",
        f"Holm-adjusted p-values (over all {family} tests in this table; raw p in brackets); the verdict cites "
        f"Holm p < {stats.ALPHA}. Scores are paired by seed where both configurations ran the same seeds. "
        "With 5-10 seeds only large differences can show; 'no evidence' is not evidence of no difference.\n",
        "| configuration | reference | spread: Brown-Forsythe | failed: Fisher exact | mean | ranks | ASO ε_min "
        "| verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r["comparison"]
        if not c or "tests" not in c:
            continue
        tests = c["tests"]
        eps = "–" if c.get("aso_eps_min") is None else f"{c['aso_eps_min']:.2f}"
        lines.append(
            f"| {r['config']} | {c['reference']} | {_p_cell(tests['spread'])} | {_p_cell(tests['failures'])} | "
            f"{_p_cell(tests['mean'], True)} | {_p_cell(tests['rank'], True)} | {eps} | {c['verdict']} |"
        )
    if not stats.deepsig_available():
        lines.append("\nASO ε_min needs the optional package `deepsig` (not installed).")
    elif all(r["comparison"].get("aso_eps_min") is None for r in compared):
        lines.append(
            f"\nASO ε_min not computed (report.aso=false, or fewer than {stats.ASO_MIN_SCORES} scores per side)."
        )
    else:
        lines.append(f"\nASO ε_min (deepsig, Bonferroni over the {len(compared)} comparisons): below "
                     f"{stats.ASO_EVIDENCE} the row is almost stochastically better than its reference.")  # fmt: skip
    return "\n".join(lines) + "\n"


def _md_evp(rows: list[dict[str, Any]]) -> str:
    with_evp = [r for r in rows if r["evp"]]
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
        e = r["evp"]
        series = lambda xs: " / ".join(f"{x:.3f}" for x in xs[:10]) + (" / …" if len(xs) > 10 else "")
        picked = series(e["test_at_best_dev"]) if e["test_at_best_dev"] else "–"
        lines.append(
            f"| {r['config']} | {e['n_runs']} | {series(e['unbiased'])} | {e['dodge'][-1]:.3f} ± "
            f"{e['dodge_sd'][-1]:.3f} | {picked} |"
        )
    return "\n".join(lines) + "\n"


def _md_seed_variance(rows: list[dict[str, Any]]) -> str:
    grids = [(r, split, v) for r in rows if r["seed_variance"] for split, v in r["seed_variance"].items()]
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
            f"| {r['config']} | {split} | {v['n_init']}x{v['n_data']} | {v['std_over_data_given_init']:.4f} | "
            f"{v['std_over_init_given_data']:.4f} | {v['std_total']:.4f} | {share} | {ps} |"
        )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ["config", "model", "task", "strategy", "metric", "n", "n_failed"] + [
    f"{split}_{stat}" for split in ("dev", "test") for stat in ("mean", "std", "min", "median", "max")
]
# Appended after the original columns so older readers of summary.csv keep working.
EXTRA_COLUMNS = [
    *(f"{split}_{stat}_ci_{end}" for split in ("test", "dev") for stat in ("mean", "std") for end in ("low", "high")),
    "test_iqr",
    "dev_iqr",
    "failed_rate_ci_low",
    "failed_rate_ci_high",
    *(f"n_{kind}" for kind in stats.FAILURE_KINDS),
    "E[max dev] n=5",
    "trivial_dev",
    "trivial_test",
    "zero_shot_dev",
    "zero_shot_test",
    "beats_trivial_test",
    "reference",
    "paired",
    *(f"{name}_{field}" for name in stats.TEST_ORDER for field in ("test", "p", "p_holm")),
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


def extra_values(r: dict[str, Any]) -> dict[str, Any]:
    """The new per-row values by column name (summary.csv and the W&B table share them)."""
    out: dict[str, Any] = {}
    for split in ("test", "dev"):
        for stat in ("mean", "std"):
            ci = r[split].get(f"{stat}_ci")
            out[f"{split}_{stat}_ci_low"] = ci and ci["low"]
            out[f"{split}_{stat}_ci_high"] = ci and ci["high"]
        out[f"{split}_iqr"] = r[split].get("iqr")
    wilson = r["failed_rate_ci"]
    out["failed_rate_ci_low"], out["failed_rate_ci_high"] = wilson and wilson["low"], wilson and wilson["high"]
    for kind in stats.FAILURE_KINDS:
        out[f"n_{kind}"] = r["failure_kinds"][kind]
    out["E[max dev] n=5"] = r["e_max_dev_n5"]
    out.update(
        {k: r["reference_scores"][k] for k in ("trivial_dev", "trivial_test", "zero_shot_dev", "zero_shot_test")}
    )
    out["beats_trivial_test"] = r["beats_trivial_test"]
    c = r["comparison"] or {}
    out["reference"] = c.get("reference")
    out["paired"] = c.get("paired")
    for name in stats.TEST_ORDER:
        entry = c.get("tests", {}).get(name, {})
        out.update(
            {f"{name}_test": entry.get("test"), f"{name}_p": entry.get("p"), f"{name}_p_holm": entry.get("p_holm")}
        )
    out["aso_eps_min"] = c.get("aso_eps_min")
    out["verdict"] = c.get("verdict")
    grid = (r["seed_variance"] or {}).get("test") or {}
    for key in ("std_over_data_given_init", "std_over_init_given_data"):
        out[key] = grid.get(key)
    for factor in ("init", "data", "residual"):
        out[f"anova_share_{factor}"] = grid.get(f"share_{factor}")
    out["n_pruned"], out["n_crashed"] = r.get("n_pruned", 0), r.get("n_crashed", 0)
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + EXTRA_COLUMNS)
    for r in rows:
        stats_ = [r[split][stat] for split in ("dev", "test") for stat in ("mean", "std", "min", "median", "max")]
        extra = extra_values(r)
        writer.writerow([r["config"], r["model"], r["task"], r["strategy"], r["metric"], r["n"], r["n_failed"], *stats_,
                         *("" if extra[c] is None else extra[c] for c in EXTRA_COLUMNS)])  # fmt: skip
    return buffer.getvalue()


def write_summary(
    out_dir: Path, rows: list[dict[str, Any]], reference: str | None = None, aso: bool = True
) -> list[dict[str, Any]]:
    """summary.md / .csv / .json (with the BLURB score when several task types are covered)."""
    from blurb_lab.report import blurb_score

    scores = blurb_score.blurb_scores(rows)
    n_tests = sum(1 for r in rows if r["comparison"] and "tests" in r["comparison"]) * len(stats.TEST_ORDER)
    if not stats.deepsig_available():
        aso = False
    settings = {
        "reference": reference or "strategy=standard (same task and model)",
        "correction": "holm",
        "n_tests": n_tests,
        "alpha": stats.ALPHA,
        "confidence": stats.CONFIDENCE,
        "bootstrap": {"n_resamples": stats.BOOTSTRAP_RESAMPLES, "seed": stats.BOOTSTRAP_SEED},
        "aso": "deepsig" if aso else "not computed (report.aso=false, or deepsig not installed)",
    }
    summary = {"configurations": rows, "blurb_scores": scores, "reference_scores": reference_scores(rows),
               "comparison_settings": settings}  # fmt: skip
    write_json(out_dir / "summary.json", summary)
    atomic_write_text(out_dir / "summary.csv", to_csv(rows))
    markdown = "# Per-seed summary\n\n" + to_markdown(rows)
    if scores:
        markdown += "\n" + blurb_score.to_markdown(scores)
    atomic_write_text(out_dir / "summary.md", markdown)
    return scores
