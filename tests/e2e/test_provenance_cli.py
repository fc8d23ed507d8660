"""results.json's provenance: the commit and dirty flag of the checkout a run came from (none when
installed, or when git cannot tell), and the versions of the distributions the run imported."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

from tests.unit.test_lock import locked


def test_the_distributions_a_process_imported_are_recorded_at_their_installed_versions():
    """In a fresh process that imports omegaconf (locked) and nothing of torch or psycopg2."""
    script = "import json, omegaconf; from blurb_lab.results import imported_distributions as d; print(json.dumps(d()))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recorded = json.loads(proc.stdout)
    assert recorded["omegaconf"] == metadata.version("omegaconf") == locked()["omegaconf"]
    assert recorded["pyyaml"] == locked()["pyyaml"]  # imported by omegaconf
    assert not {"torch", "psycopg2-binary", "blurb-lab"} & set(recorded)
