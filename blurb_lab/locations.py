"""Where blurb_lab's own files are, whether it runs from its checkout (editable install) or from a
wheel: the configs, and the checkout whose git commit a result records."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
# The wheel holds conf/ here (pyproject.toml maps the package blurb_lab._conf onto conf/).
PACKAGED_CONFIG_DIR = PACKAGE_DIR / "_conf"


def source_checkout() -> Path | None:
    """The project folder blurb_lab runs from, or None when it is installed (a wheel in
    site-packages, whose parent folder is no project of ours, even inside someone's git repo)."""
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "conf" / "config.yaml").is_file():
        return PROJECT_ROOT
    return None


def config_dir() -> Path:
    """The Hydra config folder: the wheel's copy when installed, else the checkout's conf/."""
    if (PACKAGED_CONFIG_DIR / "config.yaml").is_file():
        return PACKAGED_CONFIG_DIR
    return PROJECT_ROOT / "conf"
