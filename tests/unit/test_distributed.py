"""DDP on CPU (gloo): exact evaluation under DistributedSampler padding, and DDP inside a multirun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blurb_lab.data.sampler import micro_batches
from blurb_lab.distributed import spawn_ranks
from tests.conftest import make_task_fixtures
from tests.ddp_worker import evaluate_fixed, record_train_batches, score_counts


@pytest.mark.parametrize("task", ["ncbi_disease", "biosses"])
def test_ddp_evaluation_equals_single_process(tmp_path: Path, task: str):
    # 5 test records, batches of 2: sorted by length (the default), 3 batches, so rank 1 repeats one;
    # in record order (data.sort_eval_by_length=false) DistributedSampler pads one record instead
    data = make_task_fixtures(tmp_path / "data", n=(8, 4, 5))
    single, ddp = tmp_path / "single" / "out.json", tmp_path / "ddp" / "out.json"
    single.parent.mkdir()
    ddp.parent.mkdir()
    evaluate_fixed(task, str(data), str(single), 1)
    spawn_ranks(2, evaluate_fixed, task, str(data), str(ddp), 2)
    one, two = json.loads(single.read_text()), json.loads(ddp.read_text())
    assert len(two["predictions"]) == 5
    if task == "biosses":  # floats: the same up to rounding (other batch shapes, other thread counts)
        assert two["predictions"] == pytest.approx(one["predictions"], abs=1e-5)
        assert two["score"] == pytest.approx(one["score"], abs=1e-4)
    else:  # tags: exactly the same
        assert two["predictions"] == one["predictions"] and two["score"] == one["score"]


def test_metric_states_are_not_reduced_again_after_the_gather(tmp_path: Path):
    """Every rank scores the gathered predictions; a torchmetrics sync on compute would count each
    example twice under gloo (and fail under NCCL on CPU states)."""
    out = tmp_path / "counts.json"
    spawn_ranks(2, score_counts, str(out))
    result = json.loads(out.read_text())
    assert result["total_seen"] == [5]  # 5 predictions counted once, not 10
    assert result["score"] == pytest.approx(3 / 5)


@pytest.mark.slow
def test_ddp_ranks_split_each_global_batch_the_same_in_every_run(tmp_path: Path):
    """data.batch_size is the global batch: in every step rank r takes its half of the batch one process
    would see (each batch one length group, tests/unit/test_data.py), so Lightning must not re-wrap the
    batch sampler; two runs with the same seed see the same batches."""
    data = make_task_fixtures(tmp_path / "data", n=(22, 4, 4))  # 22 examples, batches of 4: one batch of 2
    spawn_ranks(2, record_train_batches, str(data), str(tmp_path / "batches.json"))
    ranks = [json.loads((tmp_path / f"batches.json.{rank}").read_text()) for rank in (0, 1)]
    assert ranks[0]["single"] == ranks[1]["single"]
    for rank, seen in enumerate(ranks):
        first, second = seen["runs"]
        assert first == second  # same seed, same batches
        for epoch, batches in enumerate(seen["single"]):
            assert len(batches) == 6  # global batches of 4, the last of 2
            halves = [part for batch in batches for part in micro_batches(batch, world=2, accumulation=1, rank=rank)]
            assert [b[1:] for b in first if b[0] == epoch] == halves
