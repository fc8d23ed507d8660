"""The project's own error types: each carries one line for the user and maps to exit status 2."""

from __future__ import annotations

import sys
from typing import NoReturn


class BlurbLabError(Exception):
    """A problem the user can fix; printed as one line, exit status 2, no traceback."""

    exit_code = 2


class ConfigError(BlurbLabError):
    """A config value is invalid; the message names the key, the value and what is allowed."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config error: {key}: {message}")


class DataError(BlurbLabError):
    """A data file is missing or malformed; the message names the file (and line when known)."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"data error: {where}: {message}")


class ModelError(BlurbLabError):
    """A model cannot be found or mapped (unknown encoder family, missing folder)."""


def fail(message: str) -> NoReturn:
    """A problem the user can fix, as the command line reports it: one line on stderr, exit status 2
    (preflight's checks, and a single run whose job raised a BlurbLabError)."""
    print(f"blurb-lab: {message}", file=sys.stderr)
    sys.exit(2)
