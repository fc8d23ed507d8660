"""The study tables (`blurb-lab report --table study`): every number of study_table.csv rebuilt from the
results.json files with `statistics` (means, stds, n, min, failed rates and their Wilson intervals, best
cells, BLURB scores), the Markdown cells against it, the LaTeX structure, rows that never merge two
configurations, and the summary left as it was."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

import pytest

from blurb_lab.report.blurb_score import GROUP_OF, TASK_GROUPS, blurb_score, blurb_scores, grouped_blurb_scores
from blurb_lab.report.gather import find_results
from blurb_lab.report.study_report import write_study_tables
from blurb_lab.report.study_table import BEST_DEV, build_study_table
from blurb_lab.report.summary import summarise

TASKS = {"bc5chem": "entity_f1", "gad": "positive_f1", "chemprot": "micro_f1", "biosses": "pearson",
         "hoc": "multilabel_micro_f1"}  # fmt: skip
FINISHED = ("ok", "failed", "diverged")
LR = "optim.lr=1e-5"


def run(model: str, strategy: str, task: str, seed: int, test: float | None, dev: float | None,
        status: str = "ok", variant: str = "") -> dict[str, Any]:  # fmt: skip
    label = " ".join(filter(None, (f"{model}/{task}/{strategy}", variant)))
    return {"status": status, "task": task, "model": model, "strategy": strategy, "seed": seed,
            "metric": TASKS.get(task, "accuracy"), "dev_score": dev, "test_score": test, "dev_curve": [dev],
            "config_key": f"key-{label}", "config_label": label, "trivial_test_score": 0.0}  # fmt: skip


def study_runs() -> list[dict[str, Any]]:
    """Two models, two strategies, five tasks over four task types, five seeds; model `mb` skips chemprot;
    `ma/reinit_top` also ran gad at another learning rate; failed, diverged and crashed runs."""
    rng = random.Random(7)
    runs = []
    for model in ("ma", "mb"):
        for strategy in ("standard", "reinit_top"):
            for task in TASKS:
                if model == "mb" and task == "chemprot":
                    continue
                variants = ("", LR) if (model, strategy, task) == ("ma", "reinit_top", "gad") else ("",)
                for variant in variants:
                    for seed in range(1, 6):
                        test = rng.uniform(0.4, 0.9)
                        runs.append(run(model, strategy, task, seed, test, test + rng.uniform(-0.1, 0.1),
                                        variant=variant))  # fmt: skip
    runs.append(run("ma", "standard", "gad", 6, 0.02, 0.0, "failed"))
    runs.append(run("mb", "standard", "biosses", 6, 0.1, 0.0, "diverged"))
    runs.append(run("mb", "reinit_top", "hoc", 6, None, None, "crashed"))
    return runs


def write_runs(root: Path, runs: list[dict[str, Any]]) -> Path:
    for i, r in enumerate(runs):
        (root / str(i)).mkdir(parents=True)
        (root / str(i) / "results.json").write_text(json.dumps(r))
    return root


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson's 95% score interval, from its closed form."""
    z = statistics.NormalDist().inv_cdf(0.975)
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4)
    return centre - half, centre + half


def expected_cells(runs: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """(model, strategy, variant, task) -> the cell's numbers, recomputed from the runs; BEST_DEV rows added."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in runs:
        if r["status"] in FINISHED:
            variant = r["config_label"].partition(" ")[2]
            groups.setdefault((r["model"], r["strategy"], variant, r["task"]), []).append(r)
    cells = {}
    for key, members in groups.items():
        tests = [r["test_score"] for r in members]
        k, n = sum(r["status"] != "ok" for r in members), len(members)
        cells[key] = {"n": n, "test_mean": statistics.fmean(tests), "test_std": statistics.stdev(tests),
                      "test_min": min(tests), "n_finished": n, "n_failed": k, "failed_rate": k / n,
                      "ci": wilson(k, n), "dev_mean": statistics.fmean(r["dev_score"] for r in members),
                      "config": members[0]["config_label"]}  # fmt: skip
    variants: dict[tuple[str, str], set[str]] = {}
    for model, strategy, variant, _ in cells:
        variants.setdefault((model, strategy), set()).add(variant)
    for (model, strategy), names in variants.items():
        if len(names) > 1:
            for task in TASKS:
                options = [c for (m, s, _, t), c in cells.items() if (m, s, t) == (model, strategy, task)]
                if options:
                    cells[model, strategy, BEST_DEV, task] = max(options, key=lambda c: c["dev_mean"])
    for task in TASKS:
        top = max(c["test_mean"] for key, c in cells.items() if key[3] == task)
        for key, c in cells.items():
            if key[3] == task:
                cells[key] = {**c, "best": c["test_mean"] == top}
    return cells


def expected_blurb(cells: dict[tuple[str, ...], dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Per row covering two task types: the mean over types of the mean of its task means."""
    rows: dict[tuple[str, ...], dict[str, float]] = {}
    for (model, strategy, variant, task), c in cells.items():
        rows.setdefault((model, strategy, variant), {})[task] = c["test_mean"]
    out = {}
    for key, means in rows.items():
        types = {GROUP_OF[t] for t in means}
        per_type = [statistics.fmean(m for t, m in means.items() if GROUP_OF[t] == g) for g in types]
        if len(types) >= 2:
            out[key] = {"score": statistics.fmean(per_type), "partial": len(types) < 6, "all_tasks": len(means) == 5}
    top = max(b["score"] for b in out.values() if b["all_tasks"])
    return {key: {**b, "best": b["all_tasks"] and b["score"] == top} for key, b in out.items()}


def number(text: str) -> float | None:
    return float(text) if text else None


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("study")
    runs = study_runs()
    write_runs(root / "a", runs[: len(runs) // 2])  # two sweep dirs, merged
    write_runs(root / "b", runs[len(runs) // 2 :])
    rows = summarise(find_results([root / "a", root / "b"]), aso=False)
    markdown = write_study_tables(root / "out", rows)
    lines = list(csv.DictReader(io.StringIO((root / "out" / "study_table.csv").read_text())))
    return {"runs": runs, "rows": rows, "markdown": markdown, "csv": lines, "out": root / "out"}


def test_every_number_of_the_csv_is_rebuilt_from_the_results(study: dict[str, Any]) -> None:
    cells = expected_cells(study["runs"])
    task_lines = [line for line in study["csv"] if line["task"] != "BLURB"]
    got = {(line["model"], line["strategy"], line["variant"], line["task"]): line for line in task_lines}
    assert len(got) == len(task_lines) and set(got) == set(cells)
    for key, want in cells.items():
        line = got[key]
        assert (int(line["n"]), int(line["n_finished"]), int(line["n_failed"])) == (want["n"], want["n"],
                                                                                    want["n_failed"]), key  # fmt: skip
        for name in ("test_mean", "test_std", "test_min", "failed_rate"):
            assert float(line[name]) == pytest.approx(want[name], abs=1e-12), (key, name)
        ci = (float(line["failed_rate_ci_low"]), float(line["failed_rate_ci_high"]))
        assert ci == pytest.approx(want["ci"], abs=1e-9), key
        assert line["best"] == str(want["best"]) and line["config"] == want["config"], key
        assert line["task_type"] == GROUP_OF[key[3]] and line["metric"] == TASKS[key[3]]
    assert got["ma", "standard", "", "gad"]["n_failed"] == "1" and got["mb", "reinit_top", "", "hoc"]["n"] == "5"

    blurb = expected_blurb(cells)
    blurb_lines = {(line["model"], line["strategy"], line["variant"]): line for line in study["csv"]
                   if line["task"] == "BLURB"}  # fmt: skip
    assert set(blurb_lines) == set(blurb) and ("ma", "reinit_top", LR) not in blurb  # gad alone: one task type
    for key, want in blurb.items():
        line = blurb_lines[key]
        assert float(line["test_mean"]) == pytest.approx(want["score"], abs=1e-12), key
        assert line["blurb_partial"] == str(want["partial"]) and line["best"] == str(want["best"]), key


def test_the_tests_against_standard_are_the_summarys(study: dict[str, Any]) -> None:
    by_config = {row.config: row for row in study["rows"]}
    tested = 0
    for line in study["csv"]:
        if line["task"] == "BLURB":
            continue
        comparison = by_config[line["config"]].comparison
        assert line["reference"] == comparison["reference"]
        if "tests" in comparison:
            tested += 1
            assert line["spread_test"] == "Brown-Forsythe"
            assert number(line["spread_p_holm"]) == pytest.approx(comparison["tests"]["spread"]["p_holm"])
            assert number(line["failures_p_holm"]) == pytest.approx(comparison["tests"]["failures"]["p_holm"])
        else:
            assert line["spread_p_holm"] == "" and line["strategy"] == "standard"
    assert tested > 0


def test_markdown_cells_match_the_csv(study: dict[str, Any]) -> None:
    main = study["markdown"].split("## Instability")[0]
    table = [line for line in main.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[:3] == ["model", "strategy", "variant"] and header[-1] == "BLURB"
    assert header[3:-1] == [f"{t} ({GROUP_OF[t]})" for group in TASK_GROUPS.values() for t in group if t in TASKS]
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:3]): [c.strip() for c in line.strip("|").split("|")]
            for line in table[1:] if not line.startswith("|---")}  # fmt: skip
    for line in study["csv"]:
        cells = rows[line["model"], line["strategy"], line["variant"]]
        if line["task"] == "BLURB":
            text = f"{float(line['test_mean']):.4f}"
            text = f"**{text}**" if line["best"] == "True" else text
            assert cells[-1] == text + (" (partial)" if line["blurb_partial"] == "True" else "")
            continue
        text = f"{float(line['test_mean']):.4f} ± {float(line['test_std']):.4f}"
        text = f"**{text}**" if line["best"] == "True" else text
        assert cells[header.index(f"{line['task']} ({line['task_type']})")] == f"{text} (n={line['n']})"
    assert "| ma | standard |  | " in study["markdown"] and "(n=6)" in study["markdown"]  # the failed run counts


def test_latex_has_booktabs_rules_grouped_headers_and_bold_best(study: dict[str, Any]) -> None:
    tex = (study["out"] / "study_table.tex").read_text()
    main, instability = tex.split(r"\end{table}")[:2]
    for part in (main, instability):
        assert part.count(r"\toprule") == 1 and part.count(r"\bottomrule") == 1 and r"\midrule" in part
    types = [g for g, tasks in TASK_GROUPS.items() if any(t in TASKS for t in tasks)]
    assert main.count(r"\cmidrule") == len(types) and r"\multicolumn{2}{c}{relation extraction}" in main
    assert instability.count(r"\cmidrule") == len(types) + len(TASKS)
    best = sum(line["best"] == "True" for line in study["csv"])
    assert main.count(r"\textbf{") == best and r"\textbf{" not in instability
    assert r"reinit\_top" in main and "reinit_top" not in main and r"ncbi\_disease" not in main
    assert all(line.endswith(r"\\") for line in main.splitlines() if line.startswith("ma &"))


def test_configurations_differing_in_other_overrides_get_their_own_rows() -> None:
    lrs = (("optim.lr=1e-5", 0.9, 0.5), ("optim.lr=3e-5", 0.6, 0.7))  # better on test, better on dev
    runs = [run("m", "standard", task, seed, test + 0.01 * seed, dev, variant=lr)
            for task in ("gad", "biosses") for lr, test, dev in lrs for seed in (1, 2, 3)]  # fmt: skip
    table = build_study_table(summarise(runs, aso=False))
    assert [k.variant for k in table.keys] == ["optim.lr=1e-5", "optim.lr=3e-5", BEST_DEV]
    best_dev = {t: table.cells[k, t].config for k, t in table.cells if k.variant == BEST_DEV}
    assert best_dev == {"gad": "m/gad/standard optim.lr=3e-5", "biosses": "m/biosses/standard optim.lr=3e-5"}
    assert table.blurb[table.keys[2]]["blurb_score"] == pytest.approx(0.62)  # chosen on dev, not on test
    assert any("one row per configuration" in note and "m / standard" in note for note in table.notes)


def test_configurations_sharing_a_label_are_not_merged() -> None:
    runs = [run("m", "standard", "gad", seed, 0.5 + 0.1 * version, 0.5) for version in (0, 1) for seed in (1, 2)]
    for r in runs[2:]:
        r["config_key"] = "another-identity"
    table = build_study_table(summarise(runs, aso=False))
    variants = sorted(k.variant for k in table.keys if k.variant != BEST_DEV)
    assert variants == ["[another-]", "[key-m/ga]"]
    assert sorted(table.cells[k, "gad"].test.mean for k in table.keys if k.variant != BEST_DEV) == pytest.approx(
        [0.5, 0.6]
    )
    assert any("2 configurations share the label `m/gad/standard`" in note for note in table.notes)


def test_only_tasks_present_get_columns_in_blurb_order() -> None:
    runs = [run("m", "standard", t, 1, 0.5, 0.5) for t in ("hoc", "mytask", "bc2gm", "bc5chem")]
    table = build_study_table(summarise(runs, aso=False))
    assert table.groups == [("NER", ["bc5chem", "bc2gm"]), ("document classification", ["hoc"]),
                            ("other", ["mytask"])]  # fmt: skip
    assert set(table.blurb[table.keys[0]]["tasks"]) == {"bc5chem", "bc2gm", "hoc"}  # not the unknown task


def test_blurb_score_grouped_by_model_is_the_summarys() -> None:
    configs = [(m, s, t) for m in ("a", "b") for s in ("standard", "reinit_top") for t in ("gad", "hoc")]
    runs = [run(m, s, t, 1, 0.3 + 0.1 * i, 0.5) for i, (m, s, t) in enumerate(configs)]
    rows = summarise(runs, aso=False)
    by_model = grouped_blurb_scores(rows, lambda r: r.model)
    assert blurb_scores(rows) == [{"model": m, **score} for m, score in by_model.items()]
    by_strategy = grouped_blurb_scores(rows, lambda r: (r.model, r.strategy))
    assert by_strategy["a", "reinit_top"] == blurb_score(
        [r for r in rows if (r.model, r.strategy) == ("a", "reinit_top")]
    )
    assert by_strategy["b", "standard"]["blurb_score"] == pytest.approx((0.7 + 0.8) / 2)


def test_every_blurb_metric_is_higher_is_better() -> None:
    """The best cell is the highest mean: true of every metric (Pearson is a correlation; torchmetrics leaves
    its flag unset)."""
    from blurb_lab.metrics import METRICS, build_metric

    assert {m for m in METRICS if not build_metric(m, ["O", "x"], "O").higher_is_better} == {"pearson"}


def test_table_summary_is_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from blurb_lab.report.command import main

    runs = [run("m", s, "gad", seed, 0.5 + 0.01 * seed, 0.5) for s in ("standard", "reinit_top") for seed in (1, 2, 3)]
    outputs = []
    for name, flags in (("plain", []), ("flag", ["--table", "summary"])):
        write_runs(tmp_path / name, runs)
        main([str(tmp_path / name), "--no-aso", *flags])
        files = {p.name: p.read_bytes() for p in (tmp_path / name).glob("summary.*")}
        outputs.append((capsys.readouterr().out.replace(str(tmp_path / name), "DIR"), files))
    assert outputs[0] == outputs[1] and len(outputs[0][1]) == 3
    assert not list((tmp_path / "plain").glob("study_table.*"))
