"""In-process measurements of `make gpu-check`: the peak memory of one training step as a job takes
it (fp32 weights, AdamW states, bf16 autocast activations) and the throughput of a tight loop of
such steps, for MiniLM and for a random BERT-base-shaped encoder, at the BLURB recipes' per-device
batches (32 sequences of 128 tokens; 16 of 512 for PubMedQA and BioASQ)."""

from __future__ import annotations

import time
from typing import Any

from blurb_lab import gpu_math

# (name, model, batch, tokens per sequence)
SHAPES = (
    ("minilm_32x128", "minilm", 32, 128),
    ("bert_base_32x128", "bert_base", 32, 128),
    ("bert_base_16x512", "bert_base", 16, 512),
)
TIMED_STEPS, WARMUP_STEPS = 20, 3


def bert_base_config() -> Any:
    """BERT-base's shape with random weights: nothing to download."""
    from transformers import BertConfig

    return BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, max_position_embeddings=512)  # fmt: skip


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def train_loop(config: Any, batch: int, seq: int, steps: int, warmup: int = WARMUP_STEPS, device: str = "cuda") -> dict:
    """Peak memory (CUDA only: allocated bytes above what was held before, peak reset first) and
    tokens per second of bf16-autocast training steps on random tokens, no padding. The head is a
    linear layer on every token, as small as BLURB's heads."""
    import torch
    from transformers import BertModel

    cuda, held = device.startswith("cuda"), 0
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        held = torch.cuda.memory_allocated(device)
    model = BertModel(config, add_pooling_layer=False).to(device).train()
    head = torch.nn.Linear(config.hidden_size, 1).to(device)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-5, fused=True)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, config.vocab_size, (batch, seq), generator=generator).to(device)
    started = time.perf_counter()
    for step in range(warmup + steps):
        if step == warmup:
            _sync(device)
            started = time.perf_counter()
        with torch.autocast(device_type="cuda" if cuda else "cpu", dtype=torch.bfloat16):
            loss = head(model(input_ids=ids).last_hidden_state).float().pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    _sync(device)
    seconds = time.perf_counter() - started
    result = {"batch": batch, "seq": seq, "steps": steps, "seconds": seconds,
              "tokens_per_s": batch * seq * steps / seconds,
              "peak_allocated_bytes": torch.cuda.max_memory_allocated(device) - held if cuda else None,
              "peak_reserved_bytes": torch.cuda.max_memory_reserved(device) if cuda else None}  # fmt: skip
    del model, head, optimizer, ids, loss
    if cuda:
        torch.cuda.empty_cache()
    return result


def matmul_bf16_flops(n: int = 8192, repeats: int = 10) -> float:
    """FLOP/s of a large bf16 matmul on this GPU: what the table's peak is approached by at best."""
    import torch

    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    torch.mm(a, b)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - started)


def memory_and_mfu(minilm_config: Any, device: str = "cuda") -> dict[str, Any]:
    """Every shape of SHAPES on the first visible GPU: peak memory, the jobs_per_device it implies
    for this card, achieved TFLOP/s and MFU against the card class's bf16 peak."""
    import torch

    props = torch.cuda.get_device_properties(device)
    peak = gpu_math.peak_bf16_flops(props.name)
    configs = {"minilm": minilm_config, "bert_base": bert_base_config()}
    report: dict[str, Any] = {
        "card": props.name,
        "card_memory_gib": props.total_memory / gpu_math.GIB,
        "memory_margin": gpu_math.MEMORY_MARGIN,
        "process_overhead_gib": gpu_math.PROCESS_OVERHEAD_BYTES / gpu_math.GIB,
        "peak_bf16_tflops": None if peak is None else peak / 1e12,
        "matmul_bf16_tflops": matmul_bf16_flops() / 1e12,
        "flops_per_token": "6 N + 12 L T h (N: matmul weights; L layers, T tokens, h hidden)",
    }
    for name, model, batch, seq in SHAPES:
        config = configs[model]
        run = train_loop(config, batch, seq, TIMED_STEPS, device=device)
        per_token = gpu_math.flops_per_token(config.num_hidden_layers, config.hidden_size,
                                             config.intermediate_size, seq)  # fmt: skip
        achieved = per_token * run["tokens_per_s"]
        report[name] = {
            **run,
            "peak_allocated_gib": run["peak_allocated_bytes"] / gpu_math.GIB,
            "jobs_per_device": gpu_math.jobs_per_device(props.total_memory, run["peak_allocated_bytes"]),
            "flops_per_token": per_token,
            "achieved_tflops": achieved / 1e12,
            "mfu": gpu_math.mfu(achieved, peak),
        }
    return report
