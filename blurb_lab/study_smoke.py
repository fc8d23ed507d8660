"""`make study-smoke`: the whole study in miniature on a CPU, through the same commands a GPU user runs.

MiniLM (offline) on BIOSSES whole, GAD and NCBI-disease capped to their first training records;
stage 1 chooses each task's recipe on dev over a 2-point lr grid (2 seeds), stage 2 runs 2
strategies x 2 seeds at those recipes, then the study tables. Each stage is planned first, so the
plan's estimate stands beside the measured wall time: stage 1's measured rate (planned FLOPs per
wall second) predicts stage 2's wall time, which is then measured. Writes study_smoke.md/json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SMALL = [
    "model=minilm",
    "task=biosses,gad,ncbi_disease",
    "data.limit_train_examples=400",  # BIOSSES has 64: only GAD and NCBI-disease are capped
    "trainer.max_epochs=2",
    "data.batch_size=16",
    "trainer.enable_progress_bar=false",
]
STAGE1 = ["experiment=study_recipes", *SMALL, "optim.lr=choice(1e-4,3e-4)", "hydra.sweeper.seeds=[101,102]"]
STAGE2 = ["experiment=study", *SMALL, "strategy=standard,reinit_top", "seed=1,2"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "blurb_lab", *args]


def _planned(args: list[str], out: Path) -> dict[str, Any]:
    """The plan's totals for a stage (`--tflops 1`: FLOPs are what is compared, not a card's time)."""
    subprocess.run(_cli("plan", *args, "--tflops", "1", "--out", str(out)), check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "plan.json").read_text())["totals"]


def _timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(_cli(*args), check=True)
    return time.perf_counter() - started


def run(root: Path) -> dict[str, Any]:
    """Plan and run stage 1, plan stage 2 and predict its wall time at stage 1's rate, run it, then
    the tables; the record of plans, predictions and measurements."""
    stage1 = [*STAGE1, f"hydra.sweep.dir={root / 'stage1'}"]
    stage2 = [*STAGE2, f"hydra.sweep.dir={root / 'stage2'}", f"study.recipes={root / 'stage1' / 'recipes.yaml'}"]
    plan1 = _planned(stage1, root / "plan1")
    wall1 = _timed(stage1)
    rate = (plan1["flops"] + plan1["eval_flops"]) / wall1  # FLOP per wall second, start-up included
    plan2 = _planned(stage2, root / "plan2")
    predicted2 = (plan2["flops"] + plan2["eval_flops"]) / rate
    wall2 = _timed(stage2)
    subprocess.run(_cli("report", "--table", "study", str(root / "stage2"), "--out", str(root)), check=True)
    return {
        "rate_flop_per_s": rate,
        "stages": {
            "stage 1 (study_recipes)": {"plan": plan1, "predicted_s": None, "wall_s": wall1, "command": stage1},
            "stage 2 (study)": {"plan": plan2, "predicted_s": predicted2, "wall_s": wall2, "command": stage2},
        },
    }


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "| stage | jobs | planned FLOPs | predicted wall | measured wall |",
        "|---|---|---|---|---|",
    ]
    for name, stage in record["stages"].items():
        predicted = "" if stage["predicted_s"] is None else f"{stage['predicted_s']:.0f} s"
        flops = stage["plan"]["flops"] + stage["plan"]["eval_flops"]
        lines.append(f"| {name} | {stage['plan']['jobs']} | {flops:.3g} | {predicted} | {stage['wall_s']:.0f} s |")
    lines.append(f"\nStage 1's rate, start-up and evaluation included: {record['rate_flop_per_s'] / 1e9:.3g} GFLOP/s.")
    return "\n".join(lines) + "\n"


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "multirun_outputs/study_smoke")
    if root.exists() and any(root.iterdir()):
        print(f"study-smoke: {root} is not empty; remove it or give another dir", file=sys.stderr)
        sys.exit(2)
    started = time.perf_counter()
    record = run(root)
    record["total_s"] = time.perf_counter() - started
    (root / "study_smoke.json").write_text(json.dumps(record, indent=2) + "\n")
    text = markdown(record) + f"Total, both stages and the tables: {record['total_s']:.0f} s.\n"
    (root / "study_smoke.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
