"""`blurb-lab report --table study` as a user runs it: two sweep dirs of results.json files merged into
study_table.md / .csv / .tex, the Markdown printed; no results: one line, exit status 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_cli


def write_sweep(root: Path, model: str) -> None:
    for i, (strategy, task, seed) in enumerate(
        (s, t, seed) for s in ("standard", "reinit_top") for t in ("gad", "hoc") for seed in (1, 2, 3)
    ):
        label = f"{model}/{task}/{strategy}"
        test = 0.1 * seed + (0.05 if strategy == "standard" else 0.0) + (0.01 if model == "mb" else 0.0)
        result = {"status": "ok", "task": task, "model": model, "strategy": strategy, "seed": seed, "metric": "f1",
                  "dev_score": 0.5, "test_score": test, "config_key": label, "config_label": label}  # fmt: skip
        (root / str(i)).mkdir(parents=True)
        (root / str(i) / "results.json").write_text(json.dumps(result))


def test_report_table_study_writes_and_prints_the_study_tables(tmp_path: Path) -> None:
    write_sweep(tmp_path / "a", "ma")
    write_sweep(tmp_path / "b", "mb")
    proc = run_cli("report", "--table", "study", "a", "b", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "# Study table" in proc.stdout and "## Instability" in proc.stdout
    assert proc.stdout.rstrip().endswith("written to out: study_table.md, study_table.csv, study_table.tex")
    assert (tmp_path / "out" / "study_table.md").read_text() + "\n" in proc.stdout
    assert r"\cmidrule" in (tmp_path / "out" / "study_table.tex").read_text()
    lines = list(csv.DictReader(io.StringIO((tmp_path / "out" / "study_table.csv").read_text())))
    assert len(lines) == 2 * 2 * 3  # 2 models x 2 strategies x (2 tasks + the BLURB score)
    best = {(line["task"], line["model"], line["strategy"]) for line in lines if line["best"] == "True"}
    assert best == {("gad", "mb", "standard"), ("hoc", "mb", "standard"), ("BLURB", "mb", "standard")}
    assert not list(tmp_path.glob("*/summary.*"))  # the study tables only

    (tmp_path / "empty").mkdir()
    proc = run_cli("report", "--table", "study", "empty", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "blurb-lab report: no results.json under empty"
