"""The project's own error types: each carries one line for the user and maps to exit status 2."""

from __future__ import annotations


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
