"""A strategy that names a block beyond the model's depth ends in preflight, for hub models too: the
depth comes from model.shape, so nothing is downloaded and no sweep dir is made."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_biosses_like, run_cli


def test_a_block_beyond_a_hub_models_depth_fails_before_any_job(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    sweep = ["-m", "strategy.freeze_lower_layers=3,13"]  # preflight checks every value, not just the first
    args = ["model=pubmedbert_base", "strategy=freeze_lower", f"data.root={data}", *sweep]
    proc = run_cli(*args, cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"}, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = "blurb-lab: config error: strategy.freeze_lower_layers: 13 > 12 blocks in pubmedbert_base; allowed 0..12"
    assert proc.stderr.strip().splitlines()[-1] == line
    assert not (tmp_path / "multirun_outputs").exists()


def test_a_declared_depth_that_disagrees_with_the_checkpoint_fails(tmp_path: Path):
    data = make_biosses_like(tmp_path / "data")
    proc = run_cli("model.shape.num_layers=12", f"data.root={data}", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "blurb-lab: config error: model.shape.num_layers: 12 disagrees with its config.json "
        "(num_hidden_layers: 6) for minilm"
    )
    assert not (tmp_path / "multirun_outputs").exists()
