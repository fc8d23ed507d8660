"""`make gpu-check` on a machine without CUDA: one line and a non-zero exit, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible: make gpu-check would run for real")
def test_gpu_check_without_cuda_stops_at_once_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "blurb_lab.gpu_check", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "gpu-check: no CUDA GPU visible (torch.cuda.is_available() is False); nothing to check"
    ]
    assert not (tmp_path / "out").exists()  # nothing half-written
