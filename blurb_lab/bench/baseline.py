"""The baseline a user would otherwise write: transformers' Trainer with its standard recipe.

    python -m blurb_lab.bench.baseline [--tuned] <task> <data_root> <model_dir> <epochs> <batch> <lr> <max_len>
        <seed> <out.json> [cpu|gpu-bf16]

Same model, data, epochs, batch size, linear warm-up (10%) and decay, seed and max_len as the
blurb_lab run it is timed against; dev evaluated every epoch, test once at the end.

`--tuned` is the same script as an expert would set it up: batches grouped by length (transformers
5 spells `group_by_length=True` as `train_sampling_strategy="group_by_length"`; it groups the dev and
test batches too) and the data-loader settings that are fastest on the machine (`tuned_loader`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

TUNED_FLAG = "--tuned"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tuned_loader(device: str, cpus: int | None = None) -> dict[str, Any]:
    """The fastest data-loader settings of TrainingArguments for this device and core count.

    On CPU, none. Torch's matmuls already use every core, so a worker process can only take cores
    from them, while all it could hide is collation, a tiny share of a training step
    (measured in docs/performance.md).
    Persistent workers and a prefetch factor only apply with workers, and pinned memory only speeds
    host-to-GPU copies (the Trainer turns it off under use_cpu anyway). On a GPU the host idles while
    the GPU computes, so workers prepare the next batches meanwhile (as blurb_lab's
    data.num_workers=-1: a quarter of the cores, at most 4), kept alive between epochs and
    evaluations, into pinned memory.
    """
    if device == "cpu":
        return {"dataloader_num_workers": 0, "dataloader_pin_memory": False, "dataloader_persistent_workers": False}
    workers = min(4, (cpus or os.cpu_count() or 1) // 4)
    return {"dataloader_num_workers": workers, "dataloader_pin_memory": True,
            "dataloader_persistent_workers": workers > 0}  # fmt: skip


def loader_args(device: str, tuned: bool) -> dict[str, Any]:
    """The TrainingArguments that differ between the plain and the tuned baseline."""
    if not tuned:
        return {"dataloader_num_workers": 0}
    return {"train_sampling_strategy": "group_by_length", **tuned_loader(device)}


def parse(argv: list[str]) -> tuple[bool, list[str]]:
    """(whether --tuned was given, the positional arguments): the flag may stand anywhere, so the
    positional command line of earlier versions (make gpu-check's) still works."""
    positional = [a for a in argv if a != TUNED_FLAG]
    return len(positional) < len(argv), positional


def token_encoder(tokenizer: Any, max_len: int, labels: list[str]) -> Any:
    """The batched `datasets.map` function of a token task (NCBI): word tags onto the first
    sub-token of each word, -100 on the rest and on special tokens, as the transformers examples do."""

    def encode(batch_rows: dict) -> dict:
        enc = tokenizer(batch_rows["tokens"], is_split_into_words=True, truncation=True, max_length=max_len)
        all_labels = []
        for i, tags in enumerate(batch_rows["ner_tags"]):
            previous, row = None, []
            for word in enc.word_ids(i):
                row.append(-100 if word is None or word == previous else labels.index(tags[word]))
                previous = word
            all_labels.append(row)
        enc["labels"] = all_labels
        return enc

    return encode


def pair_encoder(tokenizer: Any, max_len: int) -> Any:
    """The batched `datasets.map` function of a sentence-pair regression (BIOSSES): the pair as one
    sequence, the float label as the regression target."""

    def encode(batch_rows: dict) -> dict:
        enc = tokenizer(batch_rows["sentence1"], batch_rows["sentence2"], truncation=True, max_length=max_len)
        enc["labels"] = [float(x) for x in batch_rows["label"]]
        return enc

    return encode


def model_and_data(task: str, root: str, model_dir: str, max_len: int) -> tuple[Any, Any, dict[str, Any]]:
    """(model, collator, tokenised splits) as the Trainer's examples set up this task: a token
    classifier for a token task (its rows carry `tokens`), else a one-output regressor."""
    import datasets
    from transformers import (
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
    )

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    splits = {s: read(Path(root) / task / f"{s}.jsonl") for s in ("train", "dev", "test")}
    if "tokens" in splits["train"][0]:
        labels = ["B", "I", "O"]
        encode = token_encoder(tokenizer, max_len, labels)
        model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=len(labels))
        collator = DataCollatorForTokenClassification(tokenizer)
    else:
        encode = pair_encoder(tokenizer, max_len)
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
        collator = DataCollatorWithPadding(tokenizer)
    data = {
        s: datasets.Dataset.from_list(rows).map(encode, batched=True, remove_columns=list(rows[0]))
        for s, rows in splits.items()
    }
    return model, collator, data


def training_args(out: str, n_train: int, epochs: int, batch: int, lr: float, seed: int, device: str,
                  tuned: bool) -> Any:  # fmt: skip
    """The standard recipe blurb_lab's run is timed against: AdamW with weight decay 0.01, 10% linear
    warm-up then linear decay, clipping at 1.0, dev every epoch, nothing saved, logged or reported."""
    from transformers import TrainingArguments

    steps = epochs * math.ceil(n_train / batch)
    return TrainingArguments(
        output_dir=str(Path(out).parent / "trainer_out"),
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=64,
        num_train_epochs=epochs,
        learning_rate=lr,
        weight_decay=0.01,
        warmup_steps=math.ceil(0.1 * steps),
        lr_scheduler_type="linear",
        max_grad_norm=1.0,
        seed=seed,
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=device == "cpu",
        bf16=device == "gpu-bf16",
        **loader_args(device, tuned),
    )


def main() -> None:
    tuned, argv = parse(sys.argv[1:])
    task, root, model_dir, epochs, batch, lr, max_len, seed, out = argv[:9]
    device = argv[9] if len(argv) > 9 else "cpu"  # cpu | gpu-bf16 (make gpu-check)
    epochs, batch, max_len, seed, lr = int(epochs), int(batch), int(max_len), int(seed), float(lr)
    started = time.time()
    from transformers import Trainer, set_seed

    set_seed(seed)
    model, collator, data = model_and_data(task, root, model_dir, max_len)
    args = training_args(out, len(data["train"]), epochs, batch, lr, seed, device, tuned)
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["dev"],
                      data_collator=collator)  # fmt: skip
    fit_started = time.time()
    trainer.train()
    fit_time = time.time() - fit_started
    trainer.predict(data["test"])
    Path(out).write_text(json.dumps({"fit_time_s": fit_time, "wall_in_process_s": time.time() - started,
                                     "n_train": len(data["train"]), "epochs": epochs, "tuned": tuned}))  # fmt: skip


if __name__ == "__main__":
    main()
