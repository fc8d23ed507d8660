"""Start-up shortcuts change no output: --help and --hydra-help, listed from one repository
(blurb_lab/hydra_help.py), print what Hydra's own listing prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI on argv[2:]; with argv[1] == "plain", Hydra lists the config groups its own way.
RUN = """
import sys
import blurb_lab.hydra_help
if sys.argv[1] == "plain":
    blurb_lab.hydra_help.HELP_FLAGS = frozenset()
sys.argv = ["blurb-lab", *sys.argv[2:]]
from blurb_lab.cli import main
main()
"""


def _output(tmp_path: Path, mode: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", RUN, mode, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("args", [["--help", "task=gad"], ["--hydra-help"]])
def test_help_prints_what_hydra_prints(tmp_path: Path, args: list[str]):
    shared = _output(tmp_path, "shared", *args)
    assert "== Configuration groups ==" in shared
    assert shared == _output(tmp_path, "plain", *args)


# Counts the config repositories Hydra builds (each a deep copy of the config store) while it prints help.
COUNT = """
import sys
from hydra._internal import config_repository
built = []
real = config_repository.CachingConfigRepository.__init__
def counting(self, delegate):
    built.append(1)
    real(self, delegate)
config_repository.CachingConfigRepository.__init__ = counting
sys.argv = ["blurb-lab", "--help"]
from blurb_lab.cli import main
try:
    main()
except SystemExit:
    pass
print("BUILT", len(built))
"""


def test_help_copies_the_config_store_a_few_times_not_once_per_group(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-c", COUNT], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    built = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("BUILT ")]
    assert built and built[0] <= 3, proc.stderr[-2000:] or built
