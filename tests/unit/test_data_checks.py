"""Values that parse but mean nothing (non-finite numbers, labels outside task.label_range, duplicate
ids, empty texts) are data errors naming file and line, in every task format and split, for local,
CoNLL and hub data, the evaluator's gold side and its predictions; through the CLI, nothing is left."""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blurb_lab.config.validate import validate
from blurb_lab.data.checks import check_splits, check_task_data
from blurb_lab.errors import ConfigError, DataError
from blurb_lab.evaluate import evaluate
from blurb_lab.evaluate import main as evaluate_main
from blurb_lab.tasks import get_task_type
from tests.conftest import SHARED_BLURB, compose_config, make_task_fixtures, write_jsonl

SPLITS = ("train", "dev", "test")
FORMATS = {  # task type -> (a task of that type, file format)
    "token_jsonl": ("ncbi_disease", "jsonl"),
    "token_conll": ("ncbi_disease", "conll"),
    "single_sentence": ("gad", "jsonl"),
    "pair": ("bioasq", "jsonl"),
    "multilabel": ("hoc", "jsonl"),
    "regression": ("biosses", "jsonl"),
}
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1E999"]  # raw JSON: Python's json reads all five
BLANKS = ["", " ", "   ", "\t", "\n", "\r\n", "\u00a0", "\u3000", " \u2009 "]
CONLL_BLANKS = [" ", "  ", "\u00a0", "\u3000", "\u2009"]  # a CoNLL token cannot hold "", tab or newline
RAW = "__raw_value__"  # replaced by the raw JSON text of a non-finite number when written
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

with tempfile.TemporaryDirectory() as _tmp:
    _root = make_task_fixtures(Path(_tmp), n=(6, 4, 4))
    BASE = {
        task: {s: [json.loads(x) for x in (_root / task / f"{s}.jsonl").read_text().splitlines()] for s in SPLITS}
        for task, _ in FORMATS.values()
    }
CONFIGS = {
    name: compose_config(overrides=[f"task={task}", f"task.format={fmt}", "model=tiny_bert"])
    for name, (task, fmt) in FORMATS.items()
}


def write_split(path: Path, records: list[dict], fmt: str, raw: str | None = None, blank_lines: int = 0) -> list:
    """Write records as the format has them; return each record's line (CoNLL: each token's line)."""
    text, lines = "\n" * blank_lines, []
    for record in records:
        if fmt == "conll":
            if text:
                text += "\n"
            first = text.count("\n") + 1
            text += "".join(f"{tok}\t{tag}\n" for tok, tag in zip(record["tokens"], record["ner_tags"], strict=True))
            lines.append([first + k for k in range(len(record["tokens"]))])
        else:
            lines.append(text.count("\n") + 1)
            text += json.dumps(record).replace(json.dumps(RAW), raw or json.dumps(RAW)) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return lines


def write_task(root: Path, name: str, split: str, records: list[dict], raw: str | None, blank_lines: int) -> tuple:
    """All three splits of the format's task under root, `records` as `split`; (path, lines) of that split."""
    task, fmt = FORMATS[name]
    out = None
    for s in SPLITS:
        path = root / task / (f"{s}.tsv" if fmt == "conll" else f"{s}.jsonl")
        rows = records if s == split else BASE[task][s]
        lines = write_split(path, rows, fmt, raw if s == split else None, blank_lines if s == split else 0)
        if s == split:
            out = path, lines
    return out


def corrupt(data: st.DataObject, name: str, records: list[dict]) -> tuple[int, list[str], str | None, int | None]:
    """Put one bad value into records; return (record index, what the message must say, raw JSON, token)."""
    task, fmt = FORMATS[name]
    kinds = ["empty_text"] + (["non_finite", "duplicate_id"] if fmt == "jsonl" else [])
    if name == "regression":
        kinds += ["out_of_range", "number_as_string", "huge_integer"]
    kind = data.draw(st.sampled_from(kinds), label="kind")
    i = data.draw(st.integers(0, len(records) - 1), label="record")
    record = records[i]
    if kind == "duplicate_id":  # the later of the two records is the one reported
        first = data.draw(st.integers(0, len(records) - 1).filter(lambda k: k != i), label="other")
        first, i = min(first, i), max(first, i)
        records[i]["id"] = records[first]["id"]
        return i, ["duplicate id", f"{records[i]['id']!r}", "first on line"], None, first
    if kind == "empty_text":
        field = data.draw(st.sampled_from(list(CONFIGS[name].task.text_fields)), label="field")
        blanks = CONLL_BLANKS if fmt == "conll" else BLANKS
        blank = data.draw(st.sampled_from(blanks), label="blank")
        if isinstance(record[field], list):
            k = data.draw(st.integers(0, len(record[field]) - 1), label="token")
            record[field][k] = blank
            return i, [f"token {k} of field '{field}'", "empty or whitespace"], None, k
        record[field] = blank
        return i, [f"field '{field}'", "empty or whitespace"], None, None
    if kind == "non_finite":
        field = data.draw(st.sampled_from([*sorted(record), "score", "meta"]), label="field")
        where = field
        if field == "meta":
            record["meta"] = {"weights": [0.5, RAW]}
            where = "meta.weights[1]"
        elif isinstance(record.get(field), list) and record[field]:
            k = data.draw(st.integers(0, len(record[field]) - 1), label="element")
            record[field][k] = RAW
            where = f"{field}[{k}]"
        else:
            record[field] = RAW
        raw = data.draw(st.sampled_from(NON_FINITE), label="raw")
        return i, [f"field '{where}'", "finite"], raw, None
    if kind == "out_of_range":
        value = data.draw(st.floats(4.0, 1e300, exclude_min=True) | st.floats(-1e300, 0.0, exclude_max=True))
        record["label"] = data.draw(st.sampled_from([value, repr(value)]), label="label")
        return i, ["field 'label'", "outside task.label_range [0.0, 4.0]"], None, None
    if kind == "number_as_string":
        record["label"] = data.draw(st.sampled_from(["NaN", "nan", "inf", "-Infinity", "1e999", " -1E400 "]))
        return i, ["field 'label'", "finite"], None, None
    record["label"] = RAW  # huge_integer: an int the task cannot read as a finite float
    return i, ["field 'label'", "finite"], str(data.draw(st.integers(400, 1000), label="digits") * "9"), None


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_and_split_rejects_bad_values_naming_file_line_and_field(name: str):
    task, fmt = FORMATS[name]

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        split = data.draw(st.sampled_from(SPLITS), label="split")
        records = copy.deepcopy(BASE[task][split])
        index, needles, raw, extra = corrupt(data, name, records)
        blank_lines = data.draw(st.integers(0, 2), label="blank lines")
        with tempfile.TemporaryDirectory() as tmp:
            path, lines = write_task(Path(tmp), name, split, records, raw, blank_lines)
            cfg = copy.deepcopy(CONFIGS[name])
            cfg.data.root = tmp
            with pytest.raises(DataError) as info:
                check_task_data(cfg)
        message = str(info.value)
        line = lines[index][extra] if isinstance(lines[index], list) else lines[index]  # CoNLL: the token's line
        assert "\n" not in message and "\r" not in message
        assert f"{path}:{line}: " in message, message
        for needle in needles:
            assert needle in message, (needle, message)
        if "duplicate id" in needles:
            assert f"first on line {lines[extra]})" in message  # both lines named

    check()


NUMBERS = st.sampled_from([0, 1, 0.0, 1.0, 2, -1, True, math.nan, math.inf, -math.inf, 10**400, "1", "nan"])
LABELS = {  # any value a label field can hold, per task type
    "regression": st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=6),
        st.sampled_from(["nan", "inf", "-Infinity", "1e999", "2", " 3.5", "4.0000001", ""]),
    ),  # fmt: skip
    "multilabel": st.lists(NUMBERS, min_size=10, max_size=10),
    "single_sentence": NUMBERS | st.sampled_from(["0", "1", "NaN"]),
}


@pytest.mark.parametrize("name", list(LABELS))
def test_accepted_records_have_finite_in_range_labels_and_real_text(name: str):
    """Whatever the values, check_splits names a line, or every gold answer is finite (and in range)."""
    task, _ = FORMATS[name]
    task_type = get_task_type(CONFIGS[name].task)
    low, high = CONFIGS[name].task.label_range or (-math.inf, math.inf)
    field = task_type.cfg.text_fields[0]

    @settings(max_examples=150, deadline=None)
    @given(labels=st.lists(LABELS[name], min_size=1, max_size=4), texts=st.lists(st.sampled_from(BLANKS + ["a b"])))
    def check(labels: list, texts: list) -> None:
        records = copy.deepcopy(BASE[task]["dev"][: len(labels)])
        for line, (record, label) in enumerate(zip(records, labels, strict=False), start=1):
            record.update({"label": label, "_source": "fuzz.jsonl", "_line": line})
            if line <= len(texts):
                record[field] = texts[line - 1]
        try:
            check_splits(task_type, {"dev": records})
        except DataError as exc:
            assert "fuzz.jsonl:" in str(exc) and "\n" not in str(exc)
            return
        for record in records:
            gold = task_type.gold(record)
            assert all(math.isfinite(v) for v in (gold if isinstance(gold, list) else [gold]))
            assert name != "regression" or low <= gold <= high
            assert record[field].strip()

    check()


def _hub_dataset(split: str, row: int, kind: str):
    import datasets

    out = {}
    for theirs, ours in (("train", "train"), ("validation", "dev"), ("test", "test")):
        rows = [{"id": r["id"], "text_1": r["sentence1"], "text_2": r["sentence2"], "label": r["label"]}
                for r in BASE["biosses"][ours]]  # fmt: skip
        if ours == split:
            if kind == "nan":
                rows[row]["label"] = float("nan")
            elif kind == "inf":
                rows[row]["label"] = -float("inf")
            elif kind == "range":
                rows[row]["label"] = 4.5
            elif kind == "duplicate_id":
                rows[row]["id"] = rows[0]["id"]
            else:
                rows[row]["text_2"] = " "
        out[theirs] = datasets.Dataset.from_list(rows)
    return datasets.DatasetDict(out)


@pytest.mark.parametrize(
    "split,row,kind,needle",
    [
        ("train", 3, "nan", "field 'label' is NaN"),
        ("dev", 1, "inf", "field 'label' is -Infinity"),
        ("test", 2, "range", "outside task.label_range"),
        ("dev", 3, "duplicate_id", "first on line 1)"),
        ("train", 0, "empty", "field 'sentence2' is empty"),
    ],
)
def test_hub_data_gets_the_same_checks(monkeypatch, split: str, row: int, kind: str, needle: str):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: _hub_dataset(split, row, kind))
    cfg = copy.deepcopy(CONFIGS["regression"])
    cfg.data.source = "hub"
    theirs = {"train": "train", "dev": "validation", "test": "test"}[split]
    with pytest.raises(DataError) as info:
        check_task_data(cfg)
    assert f"bigbio/biosses[{theirs}]:{row + 1}: " in str(info.value) and needle in str(info.value)


def _biosses(root: Path) -> Path:
    for split in SPLITS:
        write_jsonl(root / "biosses" / f"{split}.jsonl", BASE["biosses"][split])
    return root


def _predictions(path: Path, raw_at: int | None = None, raw: str = "NaN") -> Path:
    rows = [{"id": r["id"], "prediction": RAW if i == raw_at else 1.5} for i, r in enumerate(BASE["biosses"]["test"])]
    path.write_text("".join(json.dumps(r).replace(json.dumps(RAW), raw) + "\n" for r in rows))
    return path


@FUZZ
@given(line=st.integers(0, 3), raw=st.sampled_from(NON_FINITE))
def test_evaluator_rejects_non_finite_predictions_naming_the_line(line: int, raw: str):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = copy.deepcopy(CONFIGS["regression"])
        cfg.data.root = str(_biosses(Path(tmp)))
        preds = _predictions(Path(tmp) / "preds.jsonl", line, raw)
        with pytest.raises(DataError) as info:
            evaluate(cfg, preds)
    assert f"{preds}:{line + 1}: field 'prediction' is " in str(info.value)


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"label": "NaN"}, "read as NaN"),
        ({"label": -0.5}, "outside task.label_range"),
        ({"id": "biosses-test-0"}, "duplicate id 'biosses-test-0' in this split (first on line 1)"),
        ({"sentence1": "\t"}, "field 'sentence1' is empty"),
    ],
)
def test_evaluator_checks_the_gold_side(tmp_path: Path, change: dict, needle: str):
    root = _biosses(tmp_path / "data")
    rows = copy.deepcopy(BASE["biosses"]["test"])
    rows[2].update(change)
    write_jsonl(root / "biosses" / "test.jsonl", rows)
    cfg = copy.deepcopy(CONFIGS["regression"])
    cfg.data.root = str(root)
    with pytest.raises(DataError) as info:
        evaluate(cfg, _predictions(tmp_path / "preds.jsonl"))
    assert f"{root / 'biosses' / 'test.jsonl'}:3: " in str(info.value) and needle in str(info.value)


def test_evaluator_command_exits_2_with_one_line_and_no_score_file(tmp_path: Path, capsys):
    root = _biosses(tmp_path / "data")
    preds = _predictions(tmp_path / "preds.jsonl", 2, "Infinity")
    with pytest.raises(SystemExit) as info:
        evaluate_main(["task=biosses", f"predictions={preds}", f"data.root={root}"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and f"{preds}:3: field 'prediction' is Infinity" in err
    assert not preds.with_suffix(".score.json").exists()


@pytest.mark.parametrize(
    "value,ok",
    [("[0.0,4.0]", True), ("null", True), ("[4.0,0.0]", False), ("[1.0,1.0]", False), ("[nan,4.0]", False),
     ("[0.0,inf]", False), ("[0.0]", False), ("[0.0,1.0,2.0]", False)],
)  # fmt: skip
def test_label_range_must_be_two_finite_numbers_low_below_high(value: str, ok: bool):
    cfg = compose_config(overrides=["task=biosses", "model=tiny_bert", f"task.label_range={value}"])
    if ok:
        validate(cfg)
        return
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert str(info.value).startswith("config error: task.label_range: ") and "\n" not in str(info.value)


def test_label_range_null_means_no_range_check():
    cfg = copy.deepcopy(CONFIGS["regression"])
    cfg.task.label_range = None
    records = [{**r, "label": 100.0, "_source": "x.jsonl", "_line": i} for i, r in enumerate(BASE["biosses"]["dev"])]
    check_splits(get_task_type(cfg.task), {"dev": records})  # no error
    with pytest.raises(DataError, match="outside task.label_range"):
        check_splits(get_task_type(CONFIGS["regression"].task), {"dev": records})


def test_label_range_is_only_for_regression():
    cfg = copy.deepcopy(CONFIGS["single_sentence"])
    cfg.task.label_range = [0.0, 1.0]
    with pytest.raises(ConfigError, match="task.label_range"):
        validate(cfg)


@pytest.mark.parametrize("task", ["biosses", "gad", "hoc", "bioasq", "pubmedqa", "ncbi_disease"])
def test_real_blurb_data_passes_the_value_checks(task: str):
    if not (SHARED_BLURB / task).is_dir():
        pytest.skip(f"real BLURB data not found at {SHARED_BLURB / task}")
    cfg = compose_config(overrides=[f"task={task}", f"data.root={SHARED_BLURB}"])
    check_task_data(cfg)


# --- through the real CLI: one line, exit 2, no sweep dir, nothing trained ----------------------------
