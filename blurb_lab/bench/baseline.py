"""The baseline a user would otherwise write: transformers' Trainer with its standard recipe.

    python -m blurb_lab.bench.baseline <task> <data_root> <model_dir> <epochs> <batch> <lr> <max_len> <seed> <out.json>

Same model, data, epochs, batch size, linear warm-up (10%) and decay, seed and max_len as the
blurb_lab run it is timed against; dev evaluated every epoch, test once at the end.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    task, root, model_dir, epochs, batch, lr, max_len, seed, out = sys.argv[1:10]
    device = sys.argv[10] if len(sys.argv) > 10 else "cpu"  # cpu | gpu-bf16 (make gpu-check)
    epochs, batch, max_len, seed, lr = int(epochs), int(batch), int(max_len), int(seed), float(lr)
    started = time.time()
    import datasets
    from transformers import (
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    splits = {s: read(Path(root) / task / f"{s}.jsonl") for s in ("train", "dev", "test")}
    token_task = "tokens" in splits["train"][0]
    if token_task:
        labels = ["B", "I", "O"]

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

        model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=len(labels))
        collator = DataCollatorForTokenClassification(tokenizer)
    else:

        def encode(batch_rows: dict) -> dict:
            enc = tokenizer(batch_rows["sentence1"], batch_rows["sentence2"], truncation=True, max_length=max_len)
            enc["labels"] = [float(x) for x in batch_rows["label"]]
            return enc

        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
        collator = DataCollatorWithPadding(tokenizer)
    data = {
        s: datasets.Dataset.from_list(rows).map(encode, batched=True, remove_columns=list(rows[0]))
        for s, rows in splits.items()
    }
    steps = epochs * math.ceil(len(data["train"]) / batch)
    args = TrainingArguments(
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
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["dev"],
                      data_collator=collator)  # fmt: skip
    fit_started = time.time()
    trainer.train()
    fit_time = time.time() - fit_started
    trainer.predict(data["test"])
    Path(out).write_text(json.dumps({"fit_time_s": fit_time, "wall_in_process_s": time.time() - started,
                                     "n_train": len(data["train"]), "epochs": epochs}))  # fmt: skip


if __name__ == "__main__":
    main()
