"""The import graph reads top-down: no cycle between blurb_lab's parts, and the validator needs no torch."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.test_imports import REPO


def test_the_validator_imports_no_torch():
    code = "import sys, blurb_lab.config.validate; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
