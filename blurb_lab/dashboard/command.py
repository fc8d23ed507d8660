"""`blurb-lab dashboard SWEEP_DIR [--push]`: the sweep's W&B workspace. Pushed when this process can
reach W&B (WANDB_MODE not offline, credentials present) and the sweep logged online or --push asks;
otherwise its spec goes to <sweep>/wandb_workspace.json, to push after `wandb sync`. A sweep run with
logger=wandb does the same at its end (report/callback.py calls after_sweep)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from blurb_lab.dashboard.sweep import DashboardError, SweepRuns, read_sweep
from blurb_lab.dashboard.workspace import build_workspace, write_spec

log = logging.getLogger(__name__)
OFFLINE_MODES = ("offline", "disabled", "dryrun")


def push_blocker() -> str | None:
    """Why this process cannot create a workspace in W&B (offline mode, no credentials), or None; decided
    from wandb's own settings (WANDB_MODE, WANDB_BASE_URL, settings files, .netrc), without network."""
    try:
        from wandb.sdk import wandb_setup
        from wandb.sdk.lib import wbauth

        settings = wandb_setup.singleton().settings  # read once per process: WANDB_MODE is read here too
        mode = os.environ.get("WANDB_MODE") or settings.mode
        if mode in OFFLINE_MODES:
            return f"W&B mode is {mode} (WANDB_MODE)"
        if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE") or settings.api_key:
            return None
        if wbauth.read_netrc_auth(host=settings.base_url):
            return None
    except Exception as exc:  # noqa: BLE001 - an unreadable setting means no push, never a crash
        return f"W&B settings unreadable ({_first_line(exc)})"
    return "no W&B credentials (set WANDB_API_KEY or run `wandb login`)"


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def push(sweep: SweepRuns) -> str:
    """Create the workspace in W&B (the entity, when the jobs named none, is the account's default), write
    the spec it was saved with, and return its URL."""
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    workspace = build_workspace(sweep, sweep.entity or wandb.Api().default_entity)
    workspace.save()
    write_spec(workspace, sweep.sweep_dir)
    return str(workspace.url)


def _write_for_later(sweep: SweepRuns) -> str:
    path = write_spec(build_workspace(sweep, sweep.entity or ""), sweep.sweep_dir)
    return (
        f"W&B workspace spec written to {path}; create it after `wandb sync` with: "
        f"blurb-lab dashboard {sweep.sweep_dir} --push"
    )


def publish(sweep: SweepRuns, online: bool) -> str:
    """Push the workspace when `online` and possible, else (or when pushing fails, with a warning) write
    its spec for later; the line to print."""
    blocker = push_blocker() if online else "offline"
    if blocker is None:
        try:
            return f"W&B workspace: {push(sweep)}"
        except Exception as exc:  # noqa: BLE001 - no network, server down: keep the spec instead
            log.warning("W&B workspace not created (%s); writing its spec instead", _first_line(exc))
    elif online:
        log.warning("W&B workspace not created: %s; writing its spec instead", blocker)
    return _write_for_later(sweep)


def after_sweep(logger_cfg: Any, sweep_dir: Path) -> None:
    """At the end of a sweep that logged to W&B: its workspace, online when the sweep logged online.
    A workspace is a convenience, so any problem is one warning and the sweep ends as it would have."""
    if logger_cfg.wandb_mode == "disabled":
        return
    try:
        print(publish(read_sweep(sweep_dir), logger_cfg.wandb_mode == "online"))
    except Exception as exc:  # noqa: BLE001
        log.warning("no W&B workspace for %s: %s", sweep_dir, _first_line(exc))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="blurb-lab dashboard", description=__doc__)
    parser.add_argument("sweep_dir", type=Path, help="a sweep dir whose jobs logged with logger=wandb")
    parser.add_argument("--push", action="store_true",
                        help="create the workspace in W&B now, whatever mode the sweep logged in")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        sweep = read_sweep(args.sweep_dir)
        if args.push and (blocker := push_blocker()) is not None:
            raise DashboardError(f"cannot push: {blocker}")
    except DashboardError as exc:
        print(f"blurb-lab dashboard: {exc}", file=sys.stderr)
        sys.exit(2)
    if not args.push:
        print(publish(sweep, sweep.online))
        return
    try:
        print(f"W&B workspace: {push(sweep)}")
    except Exception as exc:  # noqa: BLE001 - reported in one line; the spec stays for a later try
        _write_for_later(sweep)
        print(f"blurb-lab dashboard: W&B workspace not created: {_first_line(exc)}", file=sys.stderr)
        sys.exit(1)
