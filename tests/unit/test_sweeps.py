"""Sweeps that survive a bad job, GPU requests checked against the machine, statuses and resume."""

from __future__ import annotations

import pytest

import blurb_lab.parallel
from blurb_lab.preflight import preflight

CLASHING = ["strategy.freeze_lower_layers=0,2", "strategy.reinit_top_layers=0,1"]


def one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        preflight(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


# --- item 3: GPUs asked for against the GPUs the machine has (GPU count patched) ---------------------


@pytest.mark.parametrize(
    "gpus,argv,needle",
    [
        (0, ["trainer=gpu"], "trainer.devices: 1 GPU(s) asked for"),
        (2, ["trainer=ddp", "trainer.devices=4"], "trainer.devices: 4 GPU(s) asked for (trainer.accelerator=gpu)"),
        (2, ["trainer=gpu", "trainer.devices=[3]"], "trainer.devices: GPU 3 asked for, but this machine has 2 GPUs"),
        (2, ["trainer=gpu", "hydra/launcher=parallel", "hydra.launcher.jobs_per_device=0", "-m", "seed=1,2"],
         "hydra.launcher.jobs_per_device: 0 is not allowed; must be >= 1"),
    ],
)  # fmt: skip
def test_asking_for_gpus_the_machine_lacks_is_one_line(gpus, argv, needle, data_root, capsys, monkeypatch):
    monkeypatch.setattr(blurb_lab.parallel, "visible_gpus", lambda: gpus, raising=False)
    assert needle in one_line_exit_2(["model=tiny_bert", f"data.root={data_root}", *argv], capsys)


def test_gpus_the_machine_has_pass_preflight(data_root, monkeypatch):
    monkeypatch.setattr(blurb_lab.parallel, "visible_gpus", lambda: 2, raising=False)
    preflight(["model=tiny_bert", f"data.root={data_root}", "trainer=gpu", "hydra/launcher=parallel",
               "hydra.launcher.n_jobs=8", "hydra.launcher.jobs_per_device=4", "-m", "seed=1,2"])  # fmt: skip


# --- item 4: preflight checks combinations; a job that still fails is recorded and the sweep goes on ---


def test_preflight_checks_every_combination_of_the_swept_values(data_root, capsys):
    err = one_line_exit_2(["-m", "model=tiny_bert", f"data.root={data_root}", "seed=1,2", *CLASHING], capsys)
    assert "strategy.reinit_top_layers: 1 re-initialised top blocks overlap 2 frozen" in err


def test_past_the_cap_preflight_checks_each_value_and_says_so(data_root, capsys, monkeypatch):
    monkeypatch.setenv("BLURB_LAB_PREFLIGHT_COMBINATIONS", "3")
    preflight(["-m", "model=tiny_bert", f"data.root={data_root}", *CLASHING])
    err = capsys.readouterr().err.strip()
    assert err == "blurb-lab: preflight: 4 combinations of the swept values, more than 3: each value checked alone"


# --- item 6: pruned jobs, and resume that reruns only what did not run to its end -------------------
