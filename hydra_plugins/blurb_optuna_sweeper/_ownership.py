"""Trial ownership: which process runs a RUNNING trial, whether it is still alive, and the lock that
serialises "count the trials, then ask" across the workers of one study.

A trial left RUNNING by a process that died (same host, pid gone) is stale: the next worker takes it
over and runs it again under its own number with the same params.
Imported only when a sweep starts (Hydra's plugin scan skips `_` modules).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from optuna.trial import FrozenTrial

# An ownerless RUNNING trial older than this was left by a process killed between ask and claim.
UNCLAIMED_GRACE_S = 60.0


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_id() -> str:
    """host:pid:start-time of this process; the start time tells a reused pid apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid()) or ''}"


def _owner_alive(owner: str) -> bool:
    host, pid_text, start = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return True  # cannot tell from here: another machine's worker may be on it
    pid = int(pid_text)
    if Path("/proc").is_dir():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return fields[0] not in ("Z", "X") and (not start or fields[19] == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(trial: FrozenTrial) -> bool:
    """A RUNNING trial nobody is running any more: its owner died (or it was never claimed)."""
    owner = trial.user_attrs.get("owner")
    if not owner:
        started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return time.time() - started > UNCLAIMED_GRACE_S
    return not _owner_alive(str(owner))


@contextlib.contextmanager
def budget_lock(storage_url: str, study_name: str) -> Iterator[None]:
    """Serialise "count the trials, then ask" across workers of one study: a PostgreSQL advisory
    lock, or a lock file beside a SQLite database. Other back ends run unlocked."""
    if storage_url.startswith("postgresql"):
        import zlib

        import sqlalchemy

        engine = sqlalchemy.create_engine(storage_url, poolclass=sqlalchemy.pool.NullPool)
        key = zlib.crc32(f"blurb_optuna:{study_name}".encode())
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        engine.dispose()
    elif storage_url.startswith("sqlite:///"):
        import fcntl

        lock_path = Path(storage_url[len("sqlite:///") :] + ".lock")
        with open(lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield
