"""Evaluate one fixed (seeded, untrained) model with Lightning's test loop, in one or two processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import compose_config


def evaluate_fixed(task: str, data_root: str, out: str, devices: int) -> None:
    from blurb_lab.distributed import is_rank_zero
    from blurb_lab.train import make_trainer, prepare

    overrides = [f"task={task}", "model=tiny_bert", f"data.root={data_root}", "data.eval_batch_size=2",
                 f"data.cache_dir={Path(out).parent / 'cache'}", "task.max_len=16", "trainer.enable_progress_bar=false",
                 f"trainer.devices={devices}", f"trainer.strategy={'ddp' if devices > 1 else 'auto'}"]  # fmt: skip
    cfg = compose_config(overrides)
    prepared = prepare(cfg)
    trainer = make_trainer(cfg, Path(out).parent, [], [])
    trainer.test(prepared.module, datamodule=prepared.datamodule, verbose=False)
    if is_rank_zero():
        score = float(trainer.callback_metrics[f"test/{cfg.task.metric}"])
        Path(out).write_text(json.dumps({"score": score, "predictions": prepared.module.test_predictions}))


def score_counts(out: str) -> None:
    """Score the same gathered predictions on every rank, recording the counts compute() sees."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")  # as Lightning's DDP has it during evaluation

    from blurb_lab.distributed import is_rank_zero
    from blurb_lab.metrics.classification import Accuracy

    seen: list[int] = []
    original = Accuracy.compute

    def spy(self: Accuracy) -> torch.Tensor:
        seen.append(int(self.total))  # under a torchmetrics sync this is world_size x 5
        return original(self)

    Accuracy.compute = spy  # before build_metric: torchmetrics wraps compute when it is constructed
    task_cfg = compose_config(["task=pubmedqa"]).task
    from blurb_lab.tasks import get_task_type

    score = get_task_type(task_cfg).score([0, 1, 2, 0, 1], [0, 1, 2, 2, 2])
    if is_rank_zero():
        Path(out).write_text(json.dumps({"score": score, "total_seen": seen}))
    dist.destroy_process_group()


def record_train_batches(data_root: str, out: str) -> None:
    """Fit tiny_bert twice with the same seed (two runs, 2 epochs each) and write, per rank, the
    feature indices of every training batch it saw, and the batches one process would see."""
    import pytorch_lightning as pl
    import torch.distributed as dist

    from blurb_lab.train import make_trainer, prepare

    overrides = ["task=biosses", "model=tiny_bert", f"data.root={data_root}", "data.batch_size=4", "seed=7",
                 f"data.cache_dir={Path(out).parent / 'cache'}", "task.max_len=16", "trainer.max_epochs=2",
                 "trainer.enable_progress_bar=false", "trainer.devices=2", "trainer.strategy=ddp"]  # fmt: skip

    class Record(pl.Callback):
        """[epoch, *feature indices] of every training batch."""

        def __init__(self) -> None:
            self.seen: list[list[int]] = []

        def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: dict, i: int) -> None:
            self.seen.append([trainer.current_epoch, *batch["index"].tolist()])

    runs: list[list[list[int]]] = []
    single: list[list[list[int]]] = []
    for _ in range(2):
        cfg = compose_config(overrides)
        prepared = prepare(cfg)
        if not single:  # before the first fit starts DDP
            single = _single_process_batches(prepared.datamodule, epochs=2)
        record = Record()
        trainer = make_trainer(cfg, Path(out).parent, [], [record])
        trainer.fit(prepared.module, datamodule=prepared.datamodule)
        runs.append(record.seen)
    Path(f"{out}.{dist.get_rank()}").write_text(json.dumps({"runs": runs, "single": single}))


def _single_process_batches(datamodule: object, epochs: int) -> list[list[list[int]]]:
    """Per epoch, the feature indices of the training batches one process would see."""
    loader = datamodule.train_dataloader()
    out = []
    for epoch in range(epochs):
        loader.batch_sampler.sampler.set_epoch(epoch)  # as Lightning sets the epoch
        out.append([batch["index"].tolist() for batch in loader])
    return out
