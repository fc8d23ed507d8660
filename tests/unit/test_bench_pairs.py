"""make bench's bookkeeping without running a model: the three tools per workload in a rotating order,
the tuned baseline's ratio, the evaluation share, and the tuned baseline's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import blurb_lab.bench.__main__ as bench
from blurb_lab.bench.baseline import loader_args, parse, tuned_loader

WALL = {"blurb_lab": 60.0, "blurb_lab_unsorted": 66.0, "baseline": 100.0, "baseline_tuned": 80.0}


def fake_timed(calls: list[str]):
    """Stands in for bench.timed: records which tool ran and writes what that tool would have."""

    def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
        if cmd[2] == "blurb_lab":
            run_dir = Path(next(a for a in cmd if a.startswith("hydra.run.dir=")).split("=", 1)[1])
            tool = "blurb_lab_unsorted" if "data.sort_eval_by_length=false" in cmd else "blurb_lab"
            run_dir.mkdir(parents=True)
            evaluation = 12.0 if tool == "blurb_lab_unsorted" else 6.0
            (run_dir / "results.json").write_text(json.dumps({"n_train_examples": 100, "n_train_tokens": 3000,
                                                              "fit_time_s": 50.0, "test_time_s": 4.0,
                                                              "eval_time_s": evaluation}))  # fmt: skip
        else:
            tool = "baseline_tuned" if "--tuned" in cmd else "baseline"
            assert cmd.count("--tuned") == (tool == "baseline_tuned")
            Path(cmd[-1]).write_text(json.dumps({"fit_time_s": 90.0, "n_train": 100}))
        calls.append(tool)
        return WALL[tool], 1000

    return timed


def test_three_tools_rotate_and_the_tuned_ratio_and_evaluation_share_are_recorded(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(bench, "timed", fake_timed(calls))
    pairs = [
        bench.run_pair(tmp_path, tmp_path / "data", "ncbi_disease", 1, 32, 5e-5, 128, repeat, {}, repeat == 0)
        for repeat in range(3)
    ]
    assert calls == ["blurb_lab", "baseline", "baseline_tuned", "blurb_lab_unsorted",  # unsorted: once, last
                     "baseline", "baseline_tuned", "blurb_lab",
                     "baseline_tuned", "blurb_lab", "baseline"]  # fmt: skip
    pair = pairs[0]
    assert pair["ratio"] == pytest.approx(0.6) and pair["ratio_tuned"] == pytest.approx(0.75)
    assert pair["baseline_tuned"].keys() == pair["baseline"].keys() == {"wall_s", "rss_mib", "fit_s", "samples_per_s"}
    assert pair["blurb_lab"]["eval_share"] == pytest.approx(6 / 54)  # of fit + test seconds
    assert "blurb_lab_unsorted_eval" not in pairs[1]
    shares = bench.eval_shares(pairs)
    assert shares == {"eval_share": {"sorted": pytest.approx(6 / 54), "unsorted": pytest.approx(12 / 54)},
                      "eval_s": {"sorted": 6.0, "unsorted": 12.0}}  # fmt: skip


def test_the_tuned_baseline_groups_by_length_and_loads_data_in_process_on_cpu(tmp_path: Path):
    assert parse(["ncbi_disease", "--tuned", "root"]) == (True, ["ncbi_disease", "root"])
    assert parse(["ncbi_disease", "root", "gpu-bf16"]) == (False, ["ncbi_disease", "root", "gpu-bf16"])
    assert loader_args("cpu", tuned=False) == {"dataloader_num_workers": 0}  # the plain baseline, as before
    tuned = loader_args("cpu", tuned=True)
    assert tuned["train_sampling_strategy"] == "group_by_length" and tuned["dataloader_num_workers"] == 0
    assert tuned_loader("gpu-bf16", cpus=16) == {"dataloader_num_workers": 4, "dataloader_pin_memory": True,
                                                 "dataloader_persistent_workers": True}  # fmt: skip
    assert tuned_loader("gpu-bf16", cpus=2)["dataloader_persistent_workers"] is False  # no workers to keep
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], **tuned)  # transformers 5 takes them
    assert args.train_sampling_strategy == "group_by_length" and not args.dataloader_pin_memory
