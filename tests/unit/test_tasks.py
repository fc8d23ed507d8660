"""All BLURB tasks: real data loads with the README's sizes, token windows, CoNLL files, the
evaluator, and a short real-CLI run for one task of every type."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from blurb_lab.config.compose import CONFIG_DIR
from blurb_lab.config.schema import ModelConfig
from blurb_lab.data.readers import read_conll, read_local_splits
from blurb_lab.errors import DataError
from blurb_lab.models.loading import load_tokenizer
from blurb_lab.tasks import get_task_type
from tests.conftest import SHARED_BLURB, compose_config

README_SIZES = {
    "bc5chem": (4560, 4581, 4797),
    "bc5disease": (4560, 4581, 4797),
    "ncbi_disease": (5424, 923, 940),
    "jnlpba": (None, 1739, 3856),
    "ebm_pico": (None, 7049, 2064),
    "chemprot": (16521, 10361, 14396),
    "gad": (4261, 535, 534),
    "biosses": (64, 16, 20),
    "hoc": (1295, 186, 371),
    "pubmedqa": (450, 50, 500),
    "bioasq": (670, 75, 140),
}
ALL_TASKS = sorted([*README_SIZES, "bc2gm", "ddi"])


def task_cfg(name: str, *overrides: str):
    return compose_config(overrides=[f"task={name}", *overrides])


def test_all_13_tasks_have_configs():
    assert sorted(p.stem for p in Path(CONFIG_DIR, "task").glob("*.yaml")) == ALL_TASKS


@pytest.mark.parametrize("task", sorted(README_SIZES))
def test_real_task_loads_with_readme_sizes_and_valid_records(task: str):
    if not (SHARED_BLURB / task).is_dir():
        pytest.skip(f"no {SHARED_BLURB / task}")
    cfg = task_cfg(task)
    task_type = get_task_type(cfg.task)
    present = tuple(s for s, n in zip(("train", "dev", "test"), README_SIZES[task], strict=True) if n)
    splits = read_local_splits(str(SHARED_BLURB), task, splits=present)
    expected = {s: n for s, n in zip(("train", "dev", "test"), README_SIZES[task], strict=True) if n}
    assert {s: len(r) for s, r in splits.items()} == expected
    for records in splits.values():
        for record in records:
            task_type.check_record(record)  # every label is in the task's label set


@pytest.mark.parametrize(
    "task,missing", [("jnlpba", "jnlpba/train.jsonl"), ("bc2gm", "bc2gm/train.jsonl"), ("ddi", "ddi/train.jsonl")]
)
def test_missing_task_files_name_the_expected_path(tmp_path: Path, task: str, missing: str):
    """A data root with jnlpba's dev and test but no train split, and no bc2gm or ddi folder."""
    for split in ("dev", "test"):
        (tmp_path / "jnlpba").mkdir(exist_ok=True)
        (tmp_path / "jnlpba" / f"{split}.jsonl").write_text('{"id": "j0", "tokens": ["a"], "ner_tags": ["O"]}\n')
    with pytest.raises(DataError) as info:
        read_local_splits(str(tmp_path), task)
    assert str(tmp_path / missing) in str(info.value) and "\n" not in str(info.value)


def test_long_sentence_is_windowed_and_every_word_predicted(tmp_path: Path):
    cfg = task_cfg("ncbi_disease", "task.max_len=16")
    task_type = get_task_type(cfg.task)
    words = [f"word{'abcdefg'[i % 7]}" for i in range(40)]  # 5 sub-words each
    record = {"id": "s0", "tokens": words, "ner_tags": ["B", "I", "O", "O"] * 10}
    tokenizer = load_tokenizer(ModelConfig(source="random"), [" ".join("abcdefghijklmnopqrstuvwxyz")])
    encoded = task_type.encode([record], tokenizer, 16)
    assert len(encoded["input_ids"]) >= 14 and all(len(ids) <= 16 for ids in encoded["input_ids"])
    features = task_type.features([record], encoded)
    batch = task_type.collate(features, tokenizer.pad_token_id)
    assert int(batch["word_mask"].sum()) == 40
    # a model that predicts the gold tag at each first sub-word scores perfectly
    logits = torch.zeros(*batch["input_ids"].shape, 3)
    logits.scatter_(2, batch["target"].clamp(min=0).unsqueeze(-1), 1.0)
    decoded = dict(zip(batch["index"].tolist(), task_type.decode(logits, batch), strict=True))
    (prediction,) = task_type.assemble(decoded, features, 1)
    assert prediction == task_type.gold(record)
    assert task_type.to_json(prediction) == record["ner_tags"]


def test_conll_reader(tmp_path: Path):
    path = tmp_path / "devel.tsv"
    path.write_text("-DOCSTART-\tO\n\nIL-2\tB\ngene\tI\n\nexpression\tO\n", encoding="utf-8")
    records = read_conll(path)
    assert [r["tokens"] for r in records] == [["IL-2", "gene"], ["expression"]]
    assert [r["ner_tags"] for r in records] == [["B", "I"], ["O"]]
    path.write_text("IL-2\tB\ngene I\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_conll(path)
    assert info.value.line == 2
    path.write_text("IL-2\tB\n", encoding="utf-8")
    splits = read_local_splits(str(tmp_path.parent), tmp_path.name, fmt="conll", splits=("dev",))
    assert len(splits["dev"]) == 1


def test_entity_markers_become_single_tokens(tmp_path: Path):
    from blurb_lab.models.loading import add_entity_markers

    tokenizer = load_tokenizer(ModelConfig(source="random"), ["the gene and the disease"])
    added = add_entity_markers(tokenizer, ["@GENE$", "@DISEASE$"])
    assert added == ["@GENE$", "@DISEASE$"]
    assert tokenizer.tokenize("the @GENE$ and @DISEASE$") == ["the", "@GENE$", "and", "@DISEASE$"]


def test_partial_blurb_score_names_missing_types():
    from blurb_lab.report.blurb_score import blurb_scores
    from blurb_lab.report.rows import SummaryRow, summary_row

    def row(task: str, dev: float, test: float) -> SummaryRow:  # the row of one run's configuration
        run = {"config_label": task, "model": "m", "task": task, "strategy": "standard", "metric": "f1", "seed": 1,
               "status": "ok", "dev_score": dev, "test_score": test}  # fmt: skip
        return summary_row(task, [run])

    rows = [
        row("bc5chem", 0.8, 0.9),
        row("ncbi_disease", 0.7, 0.7),
        row("ncbi_disease", 0.6, 0.99),
        row("gad", 0.5, 0.6),
    ]
    (score,) = blurb_scores(rows)
    assert score["blurb_score"] == pytest.approx(((0.9 + 0.7) / 2 + 0.6) / 2)  # best-dev config per task
    assert score["partial"] and "PICO" in score["missing_task_types"]
    assert blurb_scores([row("gad", 0.5, 0.6)]) == []  # one task type: no BLURB score
