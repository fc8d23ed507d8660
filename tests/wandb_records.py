"""Read W&B offline run files back (wandb 0.31 has no public reader for them).

A `.wandb` file is a LevelDB-style log: a 7-byte header (":W&B", magic 0xBEE1, version), then
32 KiB blocks of chunks, each `<crc32:u32><length:u16><type:u8>` + payload, where type 1 is a
whole record and 2/3/4 the first/middle/last piece of one; a record is a protobuf
`wandb.proto.wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BLOCK = 32768
CHUNK_HEADER = 7


def read_records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run log"
    pos, pieces, payloads = 7, b"", []
    while pos + CHUNK_HEADER <= len(data):
        space = BLOCK - pos % BLOCK
        if space < CHUNK_HEADER:  # the rest of a block too small for a header is padding
            pos += space
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + CHUNK_HEADER])
        pos += CHUNK_HEADER
        chunk = data[pos : pos + length]
        pos += length
        if kind == 1:
            payloads.append(chunk)
        elif kind == 2:
            pieces = chunk
        elif kind == 3:
            pieces += chunk
        elif kind == 4:
            payloads.append(pieces + chunk)
        elif kind == 0 and length == 0:
            continue
    records = []
    for payload in payloads:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        records.append(record)
    return records


def run_summary(run_dir: Path) -> dict[str, Any]:
    """What a reader of an offline run cares about: identity, history, summary, config, exit code."""
    (log_file,) = run_dir.glob("run-*.wandb")
    out: dict[str, Any] = {"history": [], "summary": {}, "config": {}, "exit_code": None}
    for record in read_records(log_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            out.update(run_id=run.run_id, group=run.run_group, job_type=run.job_type,
                       name=run.display_name, project=run.project)  # fmt: skip
            for item in run.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "history":
            out["history"].append(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            )
        elif kind == "summary":
            for item in record.summary.update:
                out["summary"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                out["config"][item.key] = json.loads(item.value_json)
        elif kind == "exit":
            out["exit_code"] = record.exit.exit_code
    return out
