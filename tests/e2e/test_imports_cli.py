"""The import graph reads top-down: no cycle between blurb_lab's parts, the validator needs no torch,
and a command line that trains nothing (help, a printed config, a config or data error) imports none
of the training stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_biosses_like
from tests.unit.test_imports import REPO

# What only training, scoring or plotting needs; each takes seconds to import.
HEAVY = ("torch", "pytorch_lightning", "lightning_fabric", "transformers", "torchmetrics", "scipy", "matplotlib")

# Runs blurb_lab's CLI main in this process, then prints its exit status and the heavy modules loaded.
PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
sys.argv = ["blurb-lab", *json.loads(sys.argv[1])]
from blurb_lab.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
print("PROBE", json.dumps([code, sorted(m for m in heavy if m in sys.modules)]))
"""


def test_the_validator_imports_no_torch():
    code = "import sys, blurb_lab.config.validate; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def _bad_data(root: Path) -> str:
    """A BIOSSES-like data root whose train split has a NaN label."""
    make_biosses_like(root)
    path = root / "biosses" / "train.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace('"label": ', '"label": NaN, "was": ')
    path.write_text("\n".join(lines) + "\n")
    return str(root)


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        (["--help"], 0, "== Configuration groups =="),
        (["--cfg", "job", "task=biosses"], 0, "name: biosses"),
        (["optim.lr=-1"], 2, "optim.lr"),
        (["task=nope"], 2, "task=nope"),
        (["task=biosses", "model=tiny_bert", "data.root=<bad data>"], 2, "data error"),
    ],
    ids=["help", "cfg-job", "bad-value", "bad-option", "data-error"],
)
def test_a_command_that_trains_nothing_imports_no_training_stack(tmp_path: Path, args, status, needle):
    args = [a.replace("<bad data>", _bad_data(tmp_path / "blurb")) for a in args]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    probe = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert probe, proc.stderr[-2000:]
    code, loaded = json.loads(probe[-1].removeprefix("PROBE "))
    assert code == status and needle in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert loaded == [], f"{' '.join(args)} imported {loaded}"
