"""The parts of `make gpu-check` that need no GPU: the FLOPs formula against a hand count and against
the real module's weights, the peak table, MFU, jobs per device from memory, the verdicts and the
exit code, the commands' batch split, the one-device pinning, the step budgets, and the training
loop itself (on CPU, tiny shape)."""

from __future__ import annotations

import pytest

from blurb_lab import gpu_check, gpu_math
from blurb_lab.config.batch import batch_split
from tests.conftest import compose_config

GIB = 1024**3


def test_flops_per_token_equals_a_hand_count_of_every_matmul() -> None:
    layers, hidden, inter, seq = 2, 4, 8, 3
    # One sequence's forward matmuls per layer, as (rows, inner, columns): 2 x product FLOPs each.
    per_layer = [
        (seq, hidden, hidden),  # query
        (seq, hidden, hidden),  # key
        (seq, hidden, hidden),  # value
        (seq, hidden, seq),  # scores: every head's q.k summed over heads = seq x hidden x seq
        (seq, seq, hidden),  # probabilities x values, over all heads
        (seq, hidden, hidden),  # attention output
        (seq, hidden, inter),  # feed-forward up
        (seq, inter, hidden),  # feed-forward down
    ]
    forward = layers * sum(2 * m * k * n for m, k, n in per_layer)
    training = 3 * forward  # backward: gradients of inputs and of weights, twice the forward
    assert gpu_math.flops_per_token(layers, hidden, inter, seq) == training / seq == 1824


def test_matmul_params_are_the_encoder_layers_linear_weights() -> None:
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)  # fmt: skip
    model = BertModel(config, add_pooling_layer=False)
    weights = sum(m.weight.numel() for m in model.encoder.modules() if isinstance(m, torch.nn.Linear))
    assert gpu_math.matmul_params(3, 8, 16) == weights


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989),
        ("NVIDIA H100 PCIe", 756),
        ("NVIDIA H100 NVL", 835),
        ("NVIDIA H200", 989),
        ("NVIDIA H200 NVL", 835),
        ("NVIDIA A100-SXM4-80GB", 312),
        ("NVIDIA A100 80GB PCIe", 312),
        ("NVIDIA L4", 121),
        ("NVIDIA L40S", None),  # not an L4
        ("NVIDIA GeForce RTX 4090", None),
    ],
)
def test_peak_bf16_by_card_class(name: str, tflops: float | None) -> None:
    peak = gpu_math.peak_bf16_flops(name)
    assert (peak is None) if tflops is None else peak == pytest.approx(tflops * 1e12, rel=0.01)


def test_mfu_is_achieved_over_peak_and_none_for_an_unknown_card() -> None:
    assert gpu_math.mfu(achieved_flops=250e12, peak_flops=1000e12) == pytest.approx(0.25)
    assert gpu_math.mfu(achieved_flops=250e12, peak_flops=None) is None


def test_jobs_per_device_keeps_the_margin_and_a_context_per_process() -> None:
    # 80 GiB card, 20% kept free: 64 GiB; each job 5 GiB measured + 1 GiB not counted by the allocator
    assert gpu_math.jobs_per_device(80 * GIB, 5 * GIB) == 10
    assert gpu_math.jobs_per_device(80 * GIB, 63 * GIB + 1) == 0  # does not fit with its margin
    assert gpu_math.jobs_per_device(24 * GIB, int(0.5 * GIB)) == 12


def run(train: list[float | None], dev: list[float | None], status: str = "ok") -> dict:
    return {"status": status, "train_loss_curve": train, "dev_curve": dev}


def test_compare_runs_within_and_beyond_the_tolerance() -> None:
    reference = run([1.0, 0.5], [0.2, 0.4])
    same = gpu_math.compare_runs(reference, run([1.0 + 1e-6, 0.5], [0.2, 0.4 - 1e-6]), tolerance=1e-3)
    assert same["ok"] and same["train_loss_gap"] == pytest.approx(1e-6) and same["dev_gap"] == pytest.approx(1e-6)
    # the old check's mistake: twice the global batch moves the loss far beyond float noise
    other = gpu_math.compare_runs(reference, run([1.0, 0.4654], [0.2, 0.4]), tolerance=1e-3)
    assert not other["ok"] and other["train_loss_gap"] == pytest.approx(0.0346)


@pytest.mark.parametrize(
    "other",
    [
        run([1.0], [0.2, 0.4]),
        run([1.0, None], [0.2, 0.4]),
        run([1.0, float("nan")], [0.2, 0.4]),
        run([1.0, 0.5], [0.2, 0.4], status="crashed"),
        {"status": "ok"},
    ],  # fmt: skip
)
def test_compare_runs_fails_what_cannot_be_compared(other: dict) -> None:
    verdict = gpu_math.compare_runs(run([1.0, 0.5], [0.2, 0.4]), other, tolerance=1e-3)
    assert not verdict["ok"]


def test_exit_code_follows_the_correctness_checks_and_step_errors() -> None:
    good = {"determinism": {"ok": True}, "equality": {"ok": True, "ddp": {"skipped": "1 GPU"}}, "memory": {}}
    assert gpu_math.failures(good) == [] and gpu_math.exit_code(good) == 0
    assert gpu_math.exit_code({**good, "determinism": {"ok": False}}) == 1
    assert gpu_math.failures({**good, "equality": {"ok": False}}) == ["equality"]
    assert gpu_math.failures({**good, "memory": {"error": "CUDA out of memory"}}) == ["memory"]
    assert gpu_math.exit_code({"memory": {}}) == 1  # a correctness check that never ran is no pass


def test_the_equality_runs_share_one_global_batch_split_three_ways() -> None:
    runs = gpu_check.equality_runs(gpu_check.GPU_TRAINERS)
    splits = {}
    for name, overrides in runs.items():
        cfg = compose_config(overrides)
        assert cfg.data.batch_size == gpu_check.EQUALITY_BATCH
        assert cfg.model.source == "random" and cfg.model.dropout == 0  # no dropout mask to differ
        assert cfg.trainer.precision == "32-true"
        split = batch_split(cfg.data, cfg.trainer)
        splits[name] = (split.world, split.accumulation, split.per_device)
    half = gpu_check.EQUALITY_BATCH // 2
    assert splits == {"one_device": (1, 1, 2 * half), "accumulation": (1, 2, half), "ddp": (2, 1, half)}


def test_the_jobs_per_device_timing_is_pinned_to_the_first_visible_gpu() -> None:
    assert gpu_check.one_device_env({"PATH": "/bin"})["CUDA_VISIBLE_DEVICES"] == "0"
    assert gpu_check.one_device_env({"CUDA_VISIBLE_DEVICES": "3,5"})["CUDA_VISIBLE_DEVICES"] == "3"
    uuid = "GPU-5a1b2c3d-0000-1111-2222-333344445555"
    assert gpu_check.one_device_env({"CUDA_VISIBLE_DEVICES": f"{uuid},GPU-x"})["CUDA_VISIBLE_DEVICES"] == uuid


def test_the_step_budgets_add_up_to_under_eight_minutes() -> None:
    assert sum(gpu_check.BUDGET_S.values()) <= gpu_check.TOTAL_BUDGET_S < 8 * 60


def test_the_training_loop_runs_on_cpu() -> None:
    from transformers import BertConfig

    from blurb_lab.gpu_measure import train_loop

    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)  # fmt: skip
    result = train_loop(config, batch=2, seq=8, steps=2, warmup=1, device="cpu")
    assert result["tokens_per_s"] > 0 and result["peak_allocated_bytes"] is None


def full_report() -> dict:
    verdict = {"train_loss_gap": 1e-7, "dev_gap": 2e-6, "ok": True}
    shape = {"peak_allocated_gib": 3.2, "jobs_per_device": 25, "achieved_tflops": 310.0, "mfu": 0.31}
    return {
        "device": "NVIDIA H200", "n_gpus": 1, "steps": {},
        "determinism": {**verdict, "tolerance": 1e-3},
        "equality": {"accumulation": verdict, "ddp": {"skipped": "1 GPU visible; trainer=ddp needs 2"}, "ok": True},
        "jobs_per_device": {"throughput_ratio": 2.5, "gpu": "0"},
        "versus_trainer": {"ratio": 0.9},
        "memory": {name: {**shape, "mfu": None if name.startswith("minilm") else 0.31}
                   for name, *_ in gpu_check.SHAPES},
        "wall_s": 400.0, "failures": [],
    }  # fmt: skip


def test_the_table_renders_results_skips_and_errors() -> None:
    text = gpu_check.table(full_report())
    assert "| 1 device x 16 vs DDP 2 GPUs x 8 | 1 GPU visible; trainer=ddp needs 2 |" in text
    assert "| bert_base_16x512: peak GiB, jobs/GPU, TFLOP/s, MFU | 3.20, 25, 310, 0.310 |" in text
    assert "n/a (card not in the table)" in text and "| failed | none |" in text
    broken = {**full_report(), "equality": {"error": "StepError: exit 1"}, "memory": {"error": "OutOfMemoryError"},
              "failures": ["equality", "memory"]}  # fmt: skip
    text = gpu_check.table(broken)
    assert "| 1 device x 16 vs 1 x 2 x 8 accumulation | error: StepError: exit 1 |" in text
    assert "| memory and MFU | error: OutOfMemoryError |" in text and "| failed | equality, memory |" in text


def test_a_step_that_raises_is_recorded_in_one_line_and_timed(capsys: pytest.CaptureFixture[str]) -> None:
    report: dict = {"steps": {}}

    def boom() -> None:
        raise RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB")

    gpu_check.run_step(report, "memory", boom)
    assert report["memory"] == {"error": "RuntimeError: CUDA out of memory."}
    assert report["steps"]["memory"]["budget_s"] == gpu_check.BUDGET_S["memory"]
    assert "gpu-check: memory error in 0 s (budget" in capsys.readouterr().out
    assert gpu_math.failures({**full_report(), **report}) == ["memory"]
