"""Score a predictions file against a gold split with the metric code training uses.

    python -m blurb_lab.evaluate task=<name> predictions=<file> [split=test] [out=<json>] [data.root=...]

The file has one line per gold record in gold order: {"id": <gold id>, "prediction": P}, which is
exactly what every training run writes as predictions_test.jsonl.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from blurb_lab.data.checks import check_finite, check_splits
from blurb_lab.data.readers import load_splits, read_jsonl
from blurb_lab.errors import BlurbLabError, ConfigError, DataError
from blurb_lab.results import write_json

OWN_KEYS = ("predictions", "split", "out")


def evaluate(cfg: Any, predictions_path: Path, split: str = "test") -> dict[str, Any]:
    """Score one predictions file; DataError (file and line) for anything that does not match."""
    from blurb_lab.tasks import get_task_type

    if split not in ("train", "dev", "test"):
        raise ConfigError("split", f"'{split}' is not a split; allowed: train, dev, test")
    task_type = get_task_type(cfg.task)
    gold_records = load_splits(cfg, (split,))[split]
    check_splits(task_type, {split: gold_records})  # the gold side gets the checks training gives it
    rows = read_jsonl(predictions_path)
    for row in rows:
        check_finite(row)  # a NaN or infinite score would turn the metric into NaN instead of an error
    if len(rows) != len(gold_records):
        raise DataError(predictions_path, f"{len(rows)} predictions but the gold {split} split has {len(gold_records)}")
    predictions, golds = [], []
    for row, record in zip(rows, gold_records, strict=True):
        line = row["_line"]
        if row.get("id") != record.get("id"):
            raise DataError(predictions_path, f"id {row.get('id')!r} does not match gold id {record.get('id')!r}", line)
        if "prediction" not in row:
            raise DataError(predictions_path, "field 'prediction' missing", line)
        try:
            predictions.append(task_type.from_json(row["prediction"], record))
        except ValueError as exc:
            raise DataError(predictions_path, str(exc), line) from None
        golds.append(task_type.gold(record))
    return {
        "task": cfg.task.name,
        "split": split,
        "metric": cfg.task.metric,
        "score": task_type.score(predictions, golds),
        "n": len(golds),
        "predictions": str(predictions_path),
    }


def main(argv: list[str] | None = None) -> None:
    from blurb_lab.config.compose import compose_config, explain_compose_error

    args = sys.argv[1:] if argv is None else argv
    own = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args if a.split("=", 1)[0] in OWN_KEYS and "=" in a}
    overrides = [a for a in args if a.split("=", 1)[0] not in OWN_KEYS]
    try:
        if "predictions" not in own:
            raise ConfigError("predictions", "missing; usage: evaluate task=<name> predictions=<file>")
        try:
            cfg = compose_config(overrides)
        except Exception as exc:
            raise ConfigError("command line", explain_compose_error(exc)) from None
        result = evaluate(cfg, Path(own["predictions"]), own.get("split", "test"))
    except BlurbLabError as exc:
        print(f"blurb-lab evaluate: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    out = Path(own.get("out") or Path(own["predictions"]).with_suffix(".score.json"))
    write_json(out, result)
    print(f"{result['task']} {result['split']} {result['metric']}: {result['score']:.6f} (n={result['n']}) -> {out}")


if __name__ == "__main__":
    main()
