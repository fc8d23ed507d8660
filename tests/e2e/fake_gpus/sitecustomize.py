"""Test-only, inert unless BLURB_TEST_FAKE_GPUS is set: in every process of a sweep (the CLI, the
launcher's worker processes, DDP ranks) blurb_lab.parallel.visible_gpus returns that count, and the
job body is replaced where it would touch CUDA: a job records the slot and devices the launcher
gave it and its start and end times, then trains for real on the CPU. Python imports this module
at start-up when its folder is on PYTHONPATH (tests/e2e/test_auto_launcher_gpus_cli.py puts it
there): that is how a patch reaches processes the test does not start itself. The modules are
patched as they are imported, so helper processes (resource trackers) import nothing more."""

import os

if os.environ.get("BLURB_TEST_FAKE_GPUS"):
    import importlib.abc
    import importlib.machinery
    import json
    import sys
    import time
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    _RECORDS = Path(os.environ.get("BLURB_TEST_RECORDS", "."))

    def _fake_gpus(parallel: Any) -> None:
        parallel.visible_gpus = lambda: int(os.environ["BLURB_TEST_FAKE_GPUS"])

    def _wait_for_peers(expected: int, timeout: float) -> None:
        """Hold the slot until `expected` jobs have started (or timeout), so the jobs a launcher
        lets run together do overlap, whatever their workers' start-up times."""
        deadline = time.time() + timeout
        while len(list(_RECORDS.glob("started-*"))) < expected and time.time() < deadline:
            time.sleep(0.1)

    def _recording(train: Any) -> None:
        real_run_job = train.run_job

        def run_job(cfg: Any, output_dir: Path, overrides: list[str]) -> dict[str, Any]:
            import torch
            from omegaconf import OmegaConf, open_dict

            from blurb_lab.config.batch import ranks

            start, slot, devices = time.time(), cfg.trainer.get("device_slot"), train.trainer_devices(cfg.trainer)
            (_RECORDS / f"started-{os.getpid()}-{start}").touch()
            _wait_for_peers(
                int(os.environ.get("BLURB_TEST_PEERS", "1")), float(os.environ.get("BLURB_TEST_WAIT", "30"))
            )
            with open_dict(cfg):  # the CUDA part: the same job on CPU ranks (gloo under DDP)
                cfg.trainer.update(accelerator="cpu", precision="32-true", devices=ranks(cfg.trainer.devices))
            results = real_run_job(cfg, output_dir, overrides)
            devices = OmegaConf.to_object(devices) if OmegaConf.is_config(devices) else devices
            record = {"job": Path(output_dir).name, "slot": slot, "devices": devices, "pid": os.getpid(),
                      "threads": torch.get_num_threads(), "start": start, "end": time.time(),
                      "status": results.get("status")}  # fmt: skip
            (_RECORDS / f"job-{Path(output_dir).name}.json").write_text(json.dumps(record))
            return results

        train.run_job = run_job

    class _PatchOnImport(importlib.abc.MetaPathFinder):
        """Runs a patch on a module right after its first import, in whichever process imports it."""

        def __init__(self, patches: dict[str, Callable[[Any], None]]) -> None:
            self.patches = patches

        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            patch = self.patches.get(name)
            spec = importlib.machinery.PathFinder.find_spec(name, path) if patch else None
            if spec is None or spec.loader is None:
                return None
            execute = spec.loader.exec_module

            def exec_module(module: Any) -> None:
                execute(module)
                patch(module)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec

    sys.meta_path.insert(0, _PatchOnImport({"blurb_lab.parallel": _fake_gpus, "blurb_lab.train": _recording}))
