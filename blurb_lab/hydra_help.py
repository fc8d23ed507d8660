"""Hydra's --help and --hydra-help without a copy of the config store per config group.

Hydra lists each group's options through ConfigLoaderImpl.get_group_options, which first builds a
fresh caching repository: a deep copy of the config store, every schema and plugin config in it.
A help text lists every group of the app and of Hydra, about a hundred asks, and those copies were
most of the command's time. What a listing returns depends only on the config name and overrides
asked with (nothing changes the repository while help is built), so while Hydra prints help one
repository per such pair serves every ask. Any other command line, or a Hydra without these
methods, runs untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

HELP_FLAGS = frozenset({"--help", "-h", "--hydra-help"})


@contextlib.contextmanager
def shared_group_listing(argv: list[str]) -> Iterator[None]:
    """While Hydra prints its help for argv, list config groups from one repository per ask."""
    if not HELP_FLAGS & set(argv):
        yield
        return
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.object_type import ObjectType

    original = ConfigLoaderImpl.__dict__.get("get_group_options")
    make_repo = getattr(ConfigLoaderImpl, "_parse_overrides_and_create_caching_repo", None)
    if original is None or make_repo is None:
        yield
        return
    repos: dict[tuple[Any, ...], Any] = {}

    def get_group_options(
        self: Any,
        group_name: str,
        results_filter: Any = ObjectType.CONFIG,
        config_name: str | None = None,
        overrides: list[str] | None = None,
    ) -> list[str]:
        key = (id(self), config_name, tuple(overrides or ()))
        if key not in repos:
            repos[key] = make_repo(self, config_name, list(overrides or ()))[1]
        return repos[key].get_group_options(group_name, results_filter)

    ConfigLoaderImpl.get_group_options = get_group_options
    try:
        yield
    finally:
        ConfigLoaderImpl.get_group_options = original
