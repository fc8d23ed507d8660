"""`make gpu-check` on a machine without CUDA: one line and a non-zero exit, before any work; and its
correctness steps run on CPU trainers."""

from __future__ import annotations

import json
import os
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


@pytest.mark.slow
def test_the_correctness_steps_run_on_cpu_trainers_and_catch_another_global_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpu_check's own determinism and equality steps, with the CPU presets in place of the GPU ones
    (trainer=cpu for trainer=gpu, ddp_cpu's 2 gloo ranks for 2 GPUs): they pass, and the verdict
    fails a DDP run at twice the global batch, which is what the old check compared."""
    from blurb_lab import gpu_check, gpu_math

    monkeypatch.chdir(tmp_path)
    data = gpu_check.signal_pairs(tmp_path / "data", sizes=(240, 48, 48))  # smaller than the GPU run's: 2 cores
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cpu = {"one": ("trainer=cpu",), "ddp": ("trainer=ddp_cpu",)}
    equal = gpu_check.equality(tmp_path / "equality", data, env, 2, cpu)
    assert equal["ok"], equal
    assert equal["accumulation"]["ok"] and equal["ddp"]["ok"]
    determinism = gpu_check.determinism(tmp_path / "determinism", data, env,
                                        ("model=tiny_bert", "trainer=cpu", "trainer.max_epochs=2"))  # fmt: skip
    assert determinism["ok"] and determinism["dev_gap"] == 0, determinism
    assert gpu_math.exit_code({"determinism": determinism, "equality": equal}) == 0

    twice = [*gpu_check.equality_runs(cpu, data)["ddp"], "data.batch_size=32"]
    gpu_check.blurb([*twice, f"hydra.run.dir={tmp_path / 'twice'}"], env, "equality")
    reference = next(r for r in gpu_check.results(tmp_path / "equality" / "one")
                     if r["hparams"]["trainer"]["accumulate_grad_batches"] == 1)  # fmt: skip
    verdict = gpu_math.compare_runs(reference, json.loads((tmp_path / "twice" / "results.json").read_text()),
                                    gpu_check.EQUALITY_TOLERANCE)  # fmt: skip
    assert not verdict["ok"] and max(verdict["train_loss_gap"], verdict["dev_gap"]) > 10 * gpu_check.EQUALITY_TOLERANCE
