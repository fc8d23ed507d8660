"""Values that parse but mean nothing (non-finite numbers, labels outside task.label_range, duplicate
ids, empty texts) are data errors naming file and line, in every task format and split, for local,
CoNLL and hub data, the evaluator's gold side and its predictions; through the CLI, nothing is left."""

from __future__ import annotations

import copy
from pathlib import Path

from tests.conftest import make_task_fixtures, run_cli, write_jsonl
from tests.unit.test_data_checks import BASE, RAW, SPLITS, _biosses, _hub_dataset, write_split

# --- through the real CLI: one line, exit 2, no sweep dir, nothing trained ----------------------------

TINY = ["model=tiny_bert", "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]


def assert_rejected(proc, path: Path, line: int, needle: str, work: Path) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("blurb-lab: data error: "), proc.stderr
    assert f"{path}:{line}: " in proc.stderr and needle in proc.stderr, proc.stderr
    assert not (work / "multirun_outputs").exists()  # no sweep dir, so no results.json, partial or not
    assert not list(work.rglob("results.json"))


def test_cli_nan_label_in_a_seed_sweep_ends_before_any_job(tmp_path: Path):
    root = _biosses(tmp_path / "data")
    rows = copy.deepcopy(BASE["biosses"]["train"])
    rows[4]["label"] = RAW
    write_split(root / "biosses" / "train.jsonl", rows, "jsonl", raw="NaN")
    proc = run_cli("task=biosses", *TINY, f"data.root={root}", "-m", "seed=1,2", cwd=tmp_path)
    assert_rejected(proc, root / "biosses" / "train.jsonl", 5, "field 'label' is NaN", tmp_path)


def test_cli_bad_data_in_a_later_task_of_a_sweep_leaves_no_partial_sweep(tmp_path: Path):
    """gad is fine, bioasq's test split has a duplicate id: gad must not run and leave results behind."""
    root = make_task_fixtures(tmp_path / "data", n=(8, 4, 4))
    rows = copy.deepcopy(BASE["bioasq"]["test"])
    rows[3]["id"] = rows[1]["id"]
    write_jsonl(root / "bioasq" / "test.jsonl", rows)
    proc = run_cli(*TINY, f"data.root={root}", "-m", "task=gad,bioasq", cwd=tmp_path)
    assert_rejected(proc, root / "bioasq" / "test.jsonl", 4, "first on line 2)", tmp_path)


def test_cli_blank_conll_token_names_its_line(tmp_path: Path):
    root = tmp_path / "data"
    for split in SPLITS:
        rows = copy.deepcopy(BASE["ncbi_disease"][split])
        if split == "dev":
            rows[1]["tokens"][2] = "\u00a0"
        lines = write_split(root / "ncbi_disease" / f"{split}.tsv", rows, "conll")
        if split == "dev":
            bad_line = lines[1][2]
    proc = run_cli("task=ncbi_disease", "task.format=conll", *TINY, f"data.root={root}", cwd=tmp_path)
    assert_rejected(proc, root / "ncbi_disease" / "dev.tsv", bad_line, "token 2 of field 'tokens'", tmp_path)


def test_cli_hub_folder_with_infinite_label(tmp_path: Path):
    hub = tmp_path / "hub_biosses"
    hub.mkdir()
    for theirs, dataset in _hub_dataset("test", 2, "inf").items():
        dataset.to_parquet(str(hub / f"{theirs}.parquet"))
    proc = run_cli("task=biosses", *TINY, "data.source=hub", f"task.hub.path={hub}", "task.hub.name=null",
                   cwd=tmp_path, env={"HF_DATASETS_CACHE": str(tmp_path / "hf")})  # fmt: skip
    assert_rejected(proc, Path(f"{hub}[test]"), 3, "field 'label' is -Infinity", tmp_path)
