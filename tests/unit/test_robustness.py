"""Nothing lost, nothing cryptic: fuzzed readers, resume after SIGKILL, secrets, W&B outages."""

from __future__ import annotations

import io
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blurb_lab.data.readers import read_conll, read_jsonl
from blurb_lab.errors import DataError
from blurb_lab.tasks import get_task_type
from blurb_lab.tasks.base import TaskType
from blurb_lab.tasks.sequence import MultiLabel, PairRegression
from blurb_lab.tasks.token import TokenClassification
from tests.conftest import compose_config

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)


def universal_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines as a file opened in text mode reads them (\\n, \\r\\n and \\r all end a line)."""
    return list(enumerate(io.StringIO(text, newline=None), start=1))


@FUZZ
@given(content=st.binary(max_size=200))
def test_jsonl_reader_raises_only_its_own_error(tmp_path_factory, content: bytes):
    path = tmp_path_factory.mktemp("fuzz") / "train.jsonl"
    path.write_bytes(content)
    try:
        records = read_jsonl(path)
    except DataError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:  # every non-blank line was one JSON object, read as it is, with its line number
        lines = [(n, line) for n, line in universal_lines(content.decode("utf-8")) if line.strip()]
        expected = [{**json.loads(line), "_line": n, "_source": str(path)} for n, line in lines]
        assert json.dumps(records) == json.dumps(expected)


@FUZZ
@given(
    rows=st.lists(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4), min_size=1, max_size=6),
    blank=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_jsonl_reader_round_trips_what_was_written(tmp_path_factory, rows: list[dict], blank: list[bool]):
    """Objects written one a line (blank lines between some) come back equal, in order, with their line."""
    path = tmp_path_factory.mktemp("fuzz") / "dev.jsonl"
    lines: list[str] = []
    numbers = []
    for row, gap in zip(rows, blank, strict=False):
        lines += ["   "] if gap else []
        lines.append(json.dumps(row))
        numbers.append(len(lines))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = read_jsonl(path)
    assert len(records) == len(rows)
    assert [r.pop("_line") for r in records] == [n for n in numbers]
    assert all(r.pop("_source") == str(path) for r in records)
    # keys of ours written by the row itself are overwritten; everything else is the row
    assert json.dumps(records) == json.dumps([{k: v for k, v in row.items() if k not in ("_line", "_source")}
                                              for row in rows])  # fmt: skip


@FUZZ
@given(content=st.text(alphabet=st.sampled_from("ab\tBIO-\n \r"), max_size=120) | st.binary(max_size=60).map(repr))
def test_conll_reader_raises_only_its_own_error(tmp_path_factory, content: str):
    path = tmp_path_factory.mktemp("fuzz") / "dev.tsv"
    path.write_text(content, encoding="utf-8")
    try:
        records = read_conll(path)
    except DataError as exc:
        assert str(path) in str(exc)
    else:  # one token per non-blank line, split at the tab, in file order
        pairs = [line.rstrip("\r\n").split("\t") for _, line in universal_lines(content)]
        pairs = [p for p in pairs if "".join(p).strip() and not p[0].startswith("-DOCSTART-")]
        assert [(t, g) for r in records for t, g in zip(r["tokens"], r["ner_tags"], strict=True)] == [
            tuple(p) for p in pairs
        ]


WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=5)


@FUZZ
@given(sentences=st.lists(st.lists(st.tuples(WORD, st.sampled_from(["B", "I", "O"])), min_size=1, max_size=5),
                          min_size=1, max_size=5))  # fmt: skip
def test_conll_reader_round_trips_sentences(tmp_path_factory, sentences: list[list[tuple[str, str]]]):
    """Sentences written as CoNLL (token<TAB>tag, a blank line after each) come back as records: one per
    sentence, tokens and tags in order, id <file stem>-<n>, _line its first line."""
    path = tmp_path_factory.mktemp("fuzz") / "train.tsv"
    text = "".join("".join(f"{t}\t{g}\n" for t, g in s) + "\n" for s in sentences)
    path.write_text(text, encoding="utf-8")
    records = read_conll(path)
    assert [list(zip(r["tokens"], r["ner_tags"], strict=True)) for r in records] == [list(s) for s in sentences]
    assert [r["id"] for r in records] == [f"train-{i}" for i in range(len(sentences))]
    starts = [1 + sum(len(s) + 1 for s in sentences[:i]) for i in range(len(sentences))]
    assert [r["_line"] for r in records] == starts


TASKS = ["biosses", "ncbi_disease", "ebm_pico", "gad", "chemprot", "hoc", "pubmedqa", "bioasq"]
TASK_TYPES = {t: get_task_type(compose_config(overrides=[f"task={t}"]).task) for t in TASKS}
FIELDS = ["id", "sentence", "sentence1", "sentence2", "label", "tokens", "ner_tags"]


def valid_record(task_type: TaskType) -> st.SearchStrategy[dict]:
    """Records the task type must accept: its text fields and a label from its label set."""
    cfg = task_type.cfg
    if isinstance(task_type, TokenClassification):
        return st.integers(1, 6).flatmap(lambda n: st.fixed_dictionaries({
            cfg.text_fields[0]: st.lists(st.text(min_size=1, max_size=5), min_size=n, max_size=n),
            cfg.label_field: st.lists(st.sampled_from(task_type.labels), min_size=n, max_size=n)}))  # fmt: skip
    if isinstance(task_type, MultiLabel):
        n = len(task_type.labels)
        label: st.SearchStrategy = st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n)
    elif isinstance(task_type, PairRegression):
        label = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10, 10) | st.sampled_from(["3.5", "-1"])
    else:
        label = st.sampled_from(task_type.labels)
    return st.fixed_dictionaries({**{f: st.text(max_size=8) for f in cfg.text_fields}, cfg.label_field: label})


def check_accepted(task_type: TaskType, record: dict) -> None:
    """An accepted record reads as written: its gold answer is its label, its texts are its text fields."""
    cfg, gold = task_type.cfg, task_type.gold(record)
    label = record[cfg.label_field]
    if isinstance(task_type, TokenClassification):
        assert [task_type.labels[i] for i in gold] == [str(tag) for tag in label]
        assert task_type.texts([record]) == [" ".join(record[cfg.text_fields[0]])]
        return
    assert task_type.texts([record]) == [record[f] for f in cfg.text_fields]
    if isinstance(task_type, MultiLabel):
        assert gold == [int(v) for v in label] and len(gold) == len(task_type.labels)
    elif isinstance(task_type, PairRegression):
        assert gold == float(label) or (math.isnan(gold) and math.isnan(float(label)))
    else:
        assert task_type.labels[gold] == str(label)


@pytest.mark.parametrize("task", TASKS)
def test_every_task_type_rejects_malformed_records_with_its_own_error(task: str):
    task_type = TASK_TYPES[task]

    @FUZZ
    @given(record=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6) | valid_record(task_type))
    def check(record: dict) -> None:
        record = {**record, "_source": "fuzz.jsonl", "_line": 7}
        try:
            task_type.check_record(record)
        except DataError as exc:
            assert "fuzz.jsonl:7" in str(exc) and "\n" not in str(exc)
        else:  # accepted records must be usable end to end, and read as written
            check_accepted(task_type, record)

    check()


def valid_prediction(task_type: TaskType, n_tokens: int) -> st.SearchStrategy:
    """Predictions-file values the evaluator must accept for a record with n_tokens tokens."""
    if isinstance(task_type, TokenClassification):
        return st.lists(st.sampled_from(task_type.labels), min_size=n_tokens, max_size=n_tokens)
    if isinstance(task_type, MultiLabel):
        return st.lists(st.sampled_from(task_type.labels), unique=True)
    if isinstance(task_type, PairRegression):
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10, 10)
    return st.sampled_from(task_type.labels)


@pytest.mark.parametrize("task", ["ncbi_disease", "gad", "hoc", "biosses"])
def test_evaluator_parses_predictions_or_says_why(task: str):
    task_type = TASK_TYPES[task]
    record = {"id": "x", "tokens": ["a", "b"], "ner_tags": ["B", "O"], "sentence": "s", "label": "1",
              "sentence1": "a", "sentence2": "b"}  # fmt: skip

    @FUZZ
    @given(value=JSON_VALUES | valid_prediction(task_type, len(record["tokens"])))
    def check(value: object) -> None:
        try:
            parsed = task_type.from_json(value, record)
        except ValueError as exc:
            assert "\n" not in str(exc)
            return
        written = task_type.to_json(parsed)  # what a training run would have written for it
        assert task_type.from_json(written, record) == parsed
        if isinstance(task_type, MultiLabel):
            assert written == [label for label in task_type.labels if label in {str(v) for v in value}]
        elif isinstance(task_type, TokenClassification):
            assert written == [str(v) for v in value]
        elif isinstance(task_type, PairRegression):
            assert written == float(value)
        else:
            assert written == str(value)

    check()
