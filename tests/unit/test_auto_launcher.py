"""hydra/launcher=auto, the default multirun launcher: its rule for jobs at once and threads per job,
that a plain `-m` follows that rule on this machine, and that its seeds score as sequential ones do."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from blurb_lab.parallel import auto_layout, describe_layout
from tests.conftest import compose_config, make_biosses_like

CPU = OmegaConf.create({"accelerator": "cpu", "devices": 1, "strategy": "auto", "num_nodes": 1, "num_threads": 0})


def trainer(**changes) -> object:
    return OmegaConf.merge(CPU, changes)


@pytest.mark.parametrize(
    ("n_jobs", "cores", "changes", "n_gpus", "max_jobs", "expected"),
    [
        (8, 2, {}, 0, 0, (2, 1)),  # one thread per job, one job per core
        (8, 16, {}, 0, 0, (8, 2)),  # fewer jobs than cores: the spare cores go to the jobs
        (20, 16, {}, 0, 0, (16, 1)),
        (3, 16, {}, 0, 0, (3, 5)),
        (8, 1, {}, 0, 0, (1, 1)),  # one core: one after another
        (8, 16, {}, 0, 4, (4, 4)),  # max_jobs caps the jobs at once
        (8, 16, {"num_threads": 4}, 0, 0, (4, 4)),  # a fixed thread count sets how many fit
        (8, 4, {"num_threads": 4}, 0, 0, (1, 4)),
        (1, 16, {}, 0, 0, (1, 16)),  # a lone job keeps all the cores
        (8, 16, {"accelerator": "auto"}, 0, 0, (8, 2)),  # auto on a machine without a GPU is a CPU trainer
        (8, 16, {"devices": 2, "strategy": "ddp"}, 0, 0, (1, 16)),  # DDP on CPU: its ranks take the cores
        (8, 16, {"num_nodes": 2}, 0, 0, (1, 16)),
    ],
)
def test_auto_layout_rule(n_jobs, cores, changes, n_gpus, max_jobs, expected):
    layout = auto_layout(n_jobs, cores, trainer(**changes), n_gpus, max_jobs)
    assert (layout.at_once, layout.threads) == expected
    assert layout.at_once * (0 if layout.at_once == 1 else layout.threads) <= cores  # never oversubscribed


GPU = {"accelerator": "gpu"}
DDP = {"accelerator": "gpu", "devices": 2, "strategy": "ddp"}


@pytest.mark.parametrize(
    ("n_jobs", "cores", "changes", "n_gpus", "per_device", "max_jobs", "expected"),
    [
        (10, 16, GPU, 8, 1, 0, (8, 2)),  # one job per GPU, the cores split between them
        (3, 16, GPU, 8, 1, 0, (3, 5)),  # fewer jobs than GPUs
        (8, 16, GPU, 2, 2, 0, (4, 4)),  # jobs_per_device jobs share each GPU
        (8, 2, GPU, 8, 1, 0, (8, 1)),  # GPU jobs are not capped by the cores
        (8, 16, GPU, 8, 1, 3, (3, 5)),  # max_jobs caps them
        (8, 16, GPU, 1, 1, 0, (1, 16)),  # one GPU, one job on it: one after another
        (8, 16, {"accelerator": "auto"}, 4, 1, 0, (4, 4)),  # auto on a machine with GPUs is a GPU trainer
        (8, 16, {**GPU, "num_threads": 4}, 8, 1, 0, (8, 4)),  # a fixed thread count is kept
        (8, 16, DDP, 8, 1, 0, (4, 4)),  # DDP jobs: one per group of trainer.devices GPUs
        (8, 16, DDP, 8, 2, 0, (8, 2)),
        (8, 16, DDP, 3, 1, 0, (1, 16)),  # one group of 2 in 3 GPUs: one after another
        (8, 16, {**DDP, "num_nodes": 2}, 8, 1, 0, (1, 16)),  # multi-node ranks are started by srun/torchrun
    ],
)
def test_auto_layout_fills_the_gpus(n_jobs, cores, changes, n_gpus, per_device, max_jobs, expected):
    layout = auto_layout(n_jobs, cores, trainer(**changes), n_gpus, max_jobs, per_device)
    assert (layout.at_once, layout.threads) == expected


def test_a_batch_of_mixed_gpu_counts_runs_one_after_another():
    """Slots of 1-GPU and of 2-GPU jobs would name overlapping GPUs: such a batch runs sequentially;
    otherwise the batch takes the most cautious of its trainers' layouts."""
    from blurb_lab.parallel import batch_layout

    assert batch_layout(8, 16, [trainer(**GPU), trainer(**DDP)], 8).at_once == 1
    assert batch_layout(8, 16, [trainer(**GPU), trainer(**GPU, num_threads=4)], 8).at_once == 8
    assert batch_layout(8, 2, [trainer(**GPU), CPU], 8).at_once == 2  # the CPU jobs' cores decide


def test_log_line_names_the_choice():
    assert (
        describe_layout(8, 2, auto_layout(8, 2, CPU))
        == "launcher auto: 8 jobs, 2 at a time x 1 thread (2 cores; CPU trainer)"
    )
    gpu = describe_layout(10, 16, auto_layout(10, 16, trainer(accelerator="gpu"), 8))
    assert gpu == (
        "launcher auto: 10 jobs, 8 at a time x 2 threads (16 cores; GPU trainer: 8 GPUs, 1 per job, 1 job per device)"
    )
    one = describe_layout(3, 8, auto_layout(3, 8, trainer(accelerator="gpu"), 1))
    assert one == (
        "launcher auto: 3 jobs, one after another x 8 threads "
        "(8 cores; GPU trainer: 1 GPU, 1 per job, 1 job per device)"
    )


def _auto_launcher(overrides: list[str]):
    """The launcher a plain `-m` gets, set up on the composed sweep config (no jobs are run)."""

    from hydra_plugins.blurb_parallel_launcher.parallel_launcher import BlurbAutoLauncher

    cfg = compose_config(overrides=overrides, hydra=True)
    assert cfg.hydra.launcher._target_.endswith("BlurbAutoLauncher")  # the default, no launcher named
    launcher = BlurbAutoLauncher(**{k: v for k, v in cfg.hydra.launcher.items() if k != "_target_"})
    launcher.config, launcher.hydra_context, launcher.task_function = cfg, object(), lambda c: None
    return launcher


def _launch_seeds(launcher, n_gpus: int, cores: int, monkeypatch) -> dict:
    """Launch eight seeds with the jobs stubbed: the worker count the launcher chose (1: Hydra's
    basic launcher) and the hydra overrides each job was composed with."""
    import sys

    import blurb_lab.parallel
    from hydra_plugins.blurb_parallel_launcher import parallel_launcher

    # Hydra's plugin scan may re-run these modules: patch the classes the launcher really uses.
    (joblib_base,) = type(launcher).__bases__
    basic = sys.modules["hydra._internal.core_plugins.basic_launcher"]
    seen = {}

    def fake_launch(self, job_overrides, initial_job_idx):
        seen["n_jobs"] = self.joblib["n_jobs"] if hasattr(self, "joblib") else 1
        seen["told"] = list(launcher.config.hydra.overrides.hydra)
        return []

    monkeypatch.setattr(parallel_launcher.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(blurb_lab.parallel, "visible_gpus", lambda: n_gpus)
    monkeypatch.setattr(joblib_base, "launch", fake_launch)
    monkeypatch.setattr(basic.BasicLauncher, "launch", fake_launch)
    launcher.launch([[f"seed={s}"] for s in range(1, 9)], 0)
    return seen


@pytest.mark.parametrize(("cores", "at_once"), [(1, 1), (2, 2), (4, 4), (16, 8)])
def test_default_multirun_follows_the_rule_on_this_machine(cores, at_once, monkeypatch, caplog):
    """Eight seeds, no launcher named: jobs at once follow the core count by the rule, not a constant,
    and each job is told the count (hydra.launcher.n_jobs) so it takes cores // count threads."""
    import logging

    launcher = _auto_launcher([])
    with caplog.at_level(logging.INFO):
        seen = _launch_seeds(launcher, 0, cores, monkeypatch)
    expected = auto_layout(8, cores, launcher.config.trainer)
    assert (expected.at_once, seen["n_jobs"]) == (at_once, at_once)
    assert seen["told"][-1] == f"hydra.launcher.n_jobs={at_once}"
    assert list(launcher.config.hydra.overrides.hydra) == []  # the sweep's own config is left as it was
    assert describe_layout(8, cores, expected) in caplog.text


@pytest.mark.parametrize(
    ("overrides", "n_gpus", "at_once"),
    [
        (["trainer=gpu"], 8, 8),  # a GPU node: one seed per GPU
        (["trainer=gpu", "hydra.launcher.jobs_per_device=2"], 2, 4),
        (["trainer=ddp", "trainer.devices=2"], 8, 4),  # one DDP job per group of 2 GPUs
        (["trainer=gpu"], 1, 1),  # one GPU: one after another, in the sweep's process
    ],
)
def test_default_multirun_fills_the_gpus(overrides, n_gpus, at_once, monkeypatch, caplog):
    """A plain `-m` on a GPU trainer runs jobs at once in the GPUs' slots, and tells each job the
    count, from which it takes its slot (trainer.device_slot) and its share of the cores."""
    import logging

    launcher = _auto_launcher(overrides)
    with caplog.at_level(logging.INFO):
        seen = _launch_seeds(launcher, n_gpus, 16, monkeypatch)
    assert seen["n_jobs"] == at_once
    assert seen["told"][-1] == f"hydra.launcher.n_jobs={at_once}"
    expected = auto_layout(8, 16, launcher.config.trainer, n_gpus, 0, launcher.jobs_per_device)
    assert expected.at_once == at_once and describe_layout(8, 16, expected) in caplog.text


def test_trainer_swept_to_ddp_runs_the_batch_one_after_another(monkeypatch):
    """A job override that changes the trainer is composed: a DDP trainer in the batch means sequential."""
    from hydra_plugins.blurb_parallel_launcher import parallel_launcher

    launcher = _auto_launcher([])
    composed = OmegaConf.create({"trainer": trainer(devices=2, strategy="ddp")})
    loader = type("Loader", (), {"load_sweep_config": lambda self, config, overrides: composed})()
    launcher.hydra_context = type("Context", (), {"config_loader": loader})()
    roots = parallel_launcher._TRAINER_ROOTS
    configs = launcher._job_configs([["seed=1"], ["seed=2", "trainer=ddp_cpu"]], roots)
    assert [c.trainer.strategy for c, _ in configs] == ["auto", "ddp"]
    assert min(auto_layout(2, 16, c.trainer).at_once for c, _ in configs) == 1
    assert parallel_launcher._touches("+trainer.num_threads=2", roots)
    assert not parallel_launcher._touches("seed=3", roots)


def test_bench_times_the_layout_the_rule_picks_once():
    """make bench's seeds per hour: the auto layout is timed only where it is not one of the other runs
    (2 x 1 on 2 cores; one after another with all the cores for a short batch)."""
    from blurb_lab.bench.seeds import auto_stands_in, layouts, table
    from blurb_lab.parallel import Layout

    two = layouts(Layout(2, 1, "CPU trainer"), 2)
    sixteen = layouts(Layout(8, 2, "CPU trainer"), 16)
    assert list(two) == ["sequential", "parallel_2x1"]
    assert list(sixteen) == ["sequential", "parallel_2x1", "auto"]
    assert auto_stands_in(Layout(1, 2, "short jobs"), 2) == "sequential"
    assert "trainer.num_threads=16" in sixteen["sequential"] and "hydra/launcher=basic" in sixteen["sequential"]
    row = {"wall_s": 100.0, "seeds_per_hour": 288.0}
    report = {"cores": 2, "auto_layout": {"at_once": 2, "threads": 1}, "sequential": row, "parallel_2x1": row,
              "auto": "same as parallel_2x1", "speedup": 1.0}  # fmt: skip
    assert table(report)[2].split() == ["parallel_2x1", "2", "x", "1", "100.0", "288.0"]


def test_a_batch_too_short_for_its_workers_start_up_runs_one_after_another():
    """The rule weighs the batch's estimated training FLOPs against min_flops: under it, one after
    another with all the cores; unknown work (hub data) or min_flops=0 keeps jobs side by side."""
    from blurb_lab.parallel import Work

    short = auto_layout(4, 2, CPU, work=Work(1.6e12, 6e12))
    assert (short.at_once, short.threads) == (1, 2) and short.reason.startswith("short jobs: ~1.6e+12 training FLOPs")
    assert auto_layout(8, 2, CPU, work=Work(1.3e13, 6e12)).at_once == 2
    assert auto_layout(4, 2, CPU, work=Work(None, 6e12)).at_once == 2
    assert auto_layout(4, 2, CPU, work=Work(1.0, 0.0)).at_once == 2
    gpu = trainer(accelerator="gpu")
    assert auto_layout(4, 16, gpu, n_gpus=4, work=Work(1.0, 6e12)).at_once == 4  # GPU jobs wait on GPUs, not start-up


def test_rough_training_flops_follow_the_train_file_the_epochs_and_the_model(tmp_path: Path):
    """The launcher's estimate: linear in epochs, about 4 bytes per token, 6 x the model's matmul
    weights per token plus attention; None for hub data."""
    from blurb_lab.gpu_math import matmul_params
    from blurb_lab.plan.flops import batch_training_flops, rough_training_flops

    data = make_biosses_like(tmp_path / "data", (40, 4, 4))
    one, three = (compose_config([f"data.root={data}", "model=minilm", f"trainer.max_epochs={e}"]) for e in (1, 3))
    size = (data / "biosses" / "train.jsonl").stat().st_size
    tokens, records = size / 4, 40
    expected = 6 * matmul_params(6, 384, 1536) * tokens + 12 * 6 * 384 * tokens * min(128, tokens / records)
    assert rough_training_flops(one) == pytest.approx(expected, rel=0.01)
    assert rough_training_flops(three) == pytest.approx(3 * expected, rel=0.01)
    assert rough_training_flops(compose_config(["data.source=hub", "model=minilm"])) is None
    # a batch: each distinct config times its jobs; one job of unknown work makes the batch's unknown
    assert batch_training_flops([(one, 2), (three, 1)]) == pytest.approx(5 * expected, rel=0.01)
    assert batch_training_flops([(one, 2), (compose_config(["data.source=hub"]), 1)]) is None


def test_auto_accelerator_on_a_gpu_machine_takes_its_slots_gpu(monkeypatch):
    """`trainer.accelerator=auto` is a GPU trainer where a GPU is visible: the rule spreads it, so its
    slot must name a GPU too (else every job would land on the first GPU)."""
    import blurb_lab.parallel
    from blurb_lab.parallel import uses_gpus
    from blurb_lab.train import trainer_devices

    auto = trainer(accelerator="auto", device_slot=3)
    monkeypatch.setattr(blurb_lab.parallel, "visible_gpus", lambda: 2)
    assert uses_gpus(auto) and trainer_devices(auto) == [1]
    monkeypatch.setattr(blurb_lab.parallel, "visible_gpus", lambda: 0)
    assert not uses_gpus(auto) and trainer_devices(auto) == 1
