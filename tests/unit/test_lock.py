"""requirements.lock is what the suite runs with: every pin in it is the version installed here (as
`make install` leaves a fresh venv), and it satisfies every range pyproject.toml declares. torch is
not locked (the Makefile installs it apart, and keeps a user's own)."""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO

LOCK = REPO / "requirements.lock"
UNLOCKED = {"torch", "blurb-lab"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    """{distribution: version} of the lock's `name==version` lines."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, _, version = requirement.partition("==")
            assert version, f"requirements.lock: not an exact pin: {line!r}"
            pins[normalise(name)] = version.strip()
    return pins


def test_installed_versions_are_the_locked_ones():
    pins = locked()
    assert not UNLOCKED & set(pins), "torch and blurb_lab stay out of the lock"
    wrong = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            wrong[name] = f"locked {version}, installed {installed}"
    assert not wrong, f"environment differs from requirements.lock (make install, or make lock): {wrong}"


def test_lock_satisfies_every_range_of_pyproject():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    pins = locked()
    for requirement in requirements:
        name = normalise(requirement.name)
        if name in UNLOCKED:
            continue
        assert name in pins, f"{requirement} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{requirement}: locked {pins[name]}"
