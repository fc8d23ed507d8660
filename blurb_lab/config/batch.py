"""How the recipe's batch meets the hardware. `data.batch_size` is the global batch of one optimizer
step, whatever runs it: each of the devices x nodes ranks feeds `per_device` examples per forward,
`accumulation` forwards per step. So the same recipe on 1 GPU, on 4 with DDP or with gradient
accumulation computes the same steps, and is one configuration. Torch-free: the validator uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blurb_lab.errors import ConfigError

GPU_ACCELERATORS = ("gpu", "cuda")


def gpu_count(accelerator: str, devices: Any) -> int:
    """GPUs per node a trainer config asks for (the SLURM preset's gpus_per_node)."""
    if accelerator not in GPU_ACCELERATORS:
        return 0
    return ranks(devices)


def ranks(devices: Any) -> int:
    """Processes a `trainer.devices` value asks for on one node (a count or a list of device ids)."""
    if isinstance(devices, (list, tuple)) or (hasattr(devices, "__len__") and not isinstance(devices, str)):
        return len(devices)
    return int(devices) if str(devices).lstrip("-").isdigit() and int(devices) > 0 else 1


@dataclass(frozen=True)
class BatchSplit:
    world: int  # ranks: devices x nodes
    accumulation: int  # forwards per optimizer step on each rank
    per_device: int  # examples per forward

    @property
    def parts(self) -> int:
        """Micro-batches one global batch is cut into."""
        return self.world * self.accumulation


def batch_split(data: Any, trainer: Any) -> BatchSplit:
    """The split of data.batch_size over trainer.devices x trainer.num_nodes x accumulation. The
    accumulation is trainer.accumulate_grad_batches when set, else the least that keeps the
    per-device batch within data.max_device_batch (1 when neither is set)."""
    total = int(data.batch_size)
    world = ranks(trainer.devices) * max(1, int(trainer.get("num_nodes") or 1))
    fixed, cap = trainer.get("accumulate_grad_batches"), data.get("max_device_batch")
    for key, value in (("trainer.accumulate_grad_batches", fixed), ("data.max_device_batch", cap)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(key, f"{value!r} is not allowed; must be an integer >= 1, or null")
    if fixed is not None or cap is None:
        accumulation = fixed or 1
    else:
        fits = [a for a in range(1, total + 1) if total % (world * a) == 0 and total // (world * a) <= cap]
        if not fits:
            raise ConfigError(
                "data.max_device_batch",
                f"no accumulation splits data.batch_size={total} over {world} rank(s) into per-device "
                f"batches of at most {cap}; change data.batch_size or data.max_device_batch",
            )
        accumulation = fits[0]
    if total % (world * accumulation):
        raise ConfigError(
            "data.batch_size",
            f"{total} does not split evenly over trainer.devices x trainer.num_nodes x "
            f"trainer.accumulate_grad_batches = {ranks(trainer.devices)} x {world // ranks(trainer.devices)} x "
            f"{accumulation}; use a multiple of {world * accumulation}",
        )
    per_device = total // (world * accumulation)
    if cap is not None and per_device > cap:
        raise ConfigError(
            "data.max_device_batch",
            f"{cap}, but trainer.accumulate_grad_batches={accumulation} gives {per_device} examples per device; "
            "set one of the two, or both consistently",
        )
    return BatchSplit(world, accumulation, per_device)
