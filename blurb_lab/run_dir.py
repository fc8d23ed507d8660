"""One run dir per job when torchrun or srun starts every rank with the whole command line.

Each such rank runs Hydra itself, and Hydra resolves `hydra.run.dir` / `hydra.sweep.dir` (their
`${now:...}`, conf/hydra/default.yaml) in each process, so one job's ranks would write to as many
dirs. Before Hydra starts, every rank therefore adds the same `hydra.run.dir=...` override
(`hydra.sweep.dir=...` for a sweep; a dir the command line sets is left alone):

- under torchrun, rank 0 resolves the configured patterns once and publishes them in the store the
  torchrun agent hosts at MASTER_ADDR:MASTER_PORT for the whole run (TORCHELASTIC_USE_AGENT_STORE);
  the other ranks wait for the key. A restarted attempt finds the key set and keeps the dir, so
  `resume=true` continues the job where it was;
- otherwise (srun, or a torchrun whose store lives in rank 0 only) nobody is there to ask before the
  process group exists, so every rank derives the same name alone: the patterns' fixed head plus
  `slurm-<job id>.<step id>` or `torchrun-<run id>`. With neither, the job stops with one line.

Ranks other than 0 also drop Hydra's callbacks (the sweep summary) and Hydra's .hydra/ copy of the
config, so that the job's files come from rank 0 only.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from omegaconf import DictConfig, OmegaConf

from blurb_lab.errors import fail

# A rank waits this long for rank 0 (which may still be importing or reading its data); torchrun
# ends every rank as soon as one fails, so a dead rank 0 does not leave the others waiting.
STORE_TIMEOUT = timedelta(minutes=30)


def launched_ranks() -> tuple[int, int]:
    """(rank, world size) of a process started by torchrun (RANK, WORLD_SIZE) or srun
    (SLURM_PROCID, SLURM_NTASKS); torchrun's win when torchrun runs inside an srun step."""
    if "RANK" in os.environ:
        return int(os.environ["RANK"]), int(os.environ.get("WORLD_SIZE", "1"))
    if "SLURM_PROCID" in os.environ:
        return int(os.environ["SLURM_PROCID"]), int(os.environ.get("SLURM_NTASKS", "1"))
    return 0, 1


def shared_dir_overrides(argv: list[str]) -> list[str]:
    """The overrides that make every rank of an externally launched job use rank 0's run dir (sweep
    dir with -m); none for a lone process or a command line that is not a plain run or sweep."""
    rank, world = launched_ranks()
    if world <= 1 or any(arg.startswith("-") and arg not in ("-m", "--multirun") for arg in argv):
        return []  # --help, --cfg, --config-dir...: left to Hydra
    overrides = [arg for arg in argv if not arg.startswith("-")]
    head = _compose_hydra(overrides)
    mode = OmegaConf.select(head, "hydra.mode")
    multirun = bool({"-m", "--multirun"} & set(argv)) or getattr(mode, "name", mode) == "MULTIRUN"
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = {arg.split("=", 1)[0].lstrip("+~") for arg in overrides}
    extra = [] if key in given else [f"{key}={_quoted(_agreed_dir(rank, head, key))}"]
    if rank > 0:
        extra += [f"~hydra.callbacks.{name}" for name in head.hydra.callbacks or {}]
        extra.append("hydra.output_subdir=null")
    return extra


def _agreed_dir(rank: int, head: DictConfig, key: str) -> str:
    """The dir `key` names, the same in every rank of the job: through torchrun's store, else by name."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        return _through_store(rank, key, str(OmegaConf.select(head, key)))
    name = _launch_name()
    if name is None:
        fail(f"these ranks cannot agree on a run dir (torchrun without a shared store): set {key}")
    return _named(_pattern(head, key), name)


def _through_store(rank: int, key: str, mine: str) -> str:
    """Rank 0 publishes its dir (or, in a restarted attempt, reads the first attempt's); the others
    wait for it."""
    from torch.distributed import TCPStore

    store_key = f"blurb_lab/{key}/{os.environ.get('TORCHELASTIC_RUN_ID', '')}"
    try:
        store = TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                         timeout=STORE_TIMEOUT)  # fmt: skip
        if rank == 0 and not store.check([store_key]):
            store.set(store_key, mine)
        return store.get(store_key).decode()
    except (RuntimeError, KeyError, ValueError) as exc:  # DistStoreError is a RuntimeError
        fail(f"rank {rank} got no {key} from torchrun's store: {' '.join(str(exc).split())[:200]}")


def _launch_name() -> str | None:
    """A name every rank of one launch reads alike from its environment, unique to that launch."""
    if "SLURM_JOB_ID" in os.environ:
        return f"slurm-{os.environ['SLURM_JOB_ID']}.{os.environ.get('SLURM_STEP_ID', '0')}"
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "none")
    return None if run_id in ("", "none") else f"torchrun-{run_id}"


def _named(pattern: str, name: str) -> str:
    """The pattern's fixed head (the folders before its first interpolation) joined with `name`;
    a pattern without interpolation is already the same in every rank."""
    if "${" not in pattern:
        return pattern
    head = pattern.split("${", 1)[0].rpartition("/")[0]
    return f"{head}/{name}" if head else name


def _pattern(head: DictConfig, key: str) -> str:
    node, _, leaf = key.rpartition(".")
    return str(OmegaConf.to_container(OmegaConf.select(head, node), resolve=False)[leaf])


def _compose_hydra(overrides: list[str]) -> DictConfig:
    """The config with its hydra node, as Hydra composes it before a run or a sweep (sweep
    overrides left out, as Hydra leaves them out of the sweep's own config)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from blurb_lab.config.compose import compose_config

    plain = [o.input_line for o in OverridesParser.create().parse_overrides(overrides) if not o.is_sweep_override()]
    try:
        return compose_config(plain, hydra=True)
    finally:
        GlobalHydra.instance().clear()


def _quoted(value: Any) -> str:
    """A path as one Hydra override value (quoted: a path may hold characters the grammar reserves)."""
    return "'" + str(value).replace("'", "\\'") + "'"
