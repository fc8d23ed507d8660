"""The wheel carries everything the CLI needs: built from a copy of the sources and installed into a
fresh venv that sees the project venv's dependencies but not the checkout, it runs from an empty
directory. Offline: the build reuses this venv's setuptools, the venv reuses its packages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, make_biosses_like

SOURCES = ("pyproject.toml", "README.md", "blurb_lab", "hydra_plugins", "conf")
# Prints "<name> <file>" for blurb_lab and every Hydra sweeper and launcher plugin found.
DISCOVER = """
import inspect, blurb_lab
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
print("blurb_lab", blurb_lab.__file__)
for kind in (Sweeper, Launcher):
    for plugin in Plugins.instance().discover(kind):
        print(plugin.__name__, inspect.getfile(plugin))
"""


def _run(*args: str | Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONWARNINGS="ignore", HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources so the checkout gets no build/ or egg-info."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    proc = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                "-w", dist, src, cwd=src)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = dist.glob("blurb_lab-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the wheel; the project venv's site-packages is on its path through a plain
    .pth line, so that folder's own .pth files (the editable install's finder) are not run."""
    root = tmp_path_factory.mktemp("venv")
    proc = _run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    python = root / "bin" / "python"
    site_dir = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site_dir.stdout.strip()) / "project_venv.pth").write_text("".join(f"{p}\n" for p in sorted(shared)))
    proc = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def test_wheel_holds_every_package_and_config(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in {p.parent for top in ("blurb_lab", "hydra_plugins") for p in (REPO / top).rglob("*.py")}:
        assert f"{folder.relative_to(REPO).as_posix()}/__init__.py" in names, f"{folder} missing from the wheel"
    configs = {f"blurb_lab/_conf/{p.relative_to(REPO / 'conf').as_posix()}" for p in (REPO / "conf").rglob("*.yaml")}
    assert configs and configs <= names


def test_installed_wheel_runs_a_tiny_job_from_an_empty_directory(venv: Path, tmp_path: Path):
    bin_dir = venv / "bin"
    work = tmp_path / "work"
    work.mkdir()
    # Hydra finds the shipped sweeper and launcher by scanning the hydra_plugins namespace.
    where = _run(bin_dir / "python", "-c", DISCOVER, cwd=work)
    assert where.returncode == 0, where.stderr[-3000:]
    found = dict(line.split(" ", 1) for line in where.stdout.splitlines())
    assert {"BlurbOptunaSweeper", "BlurbParallelLauncher", "blurb_lab"} <= set(found)
    for name in ("BlurbOptunaSweeper", "BlurbParallelLauncher", "blurb_lab"):
        assert Path(found[name]).is_relative_to(venv) and not Path(found[name]).is_relative_to(REPO), found

    cfg = _run(bin_dir / "blurb-lab", "--cfg", "job", "task=biosses", "model=tiny_bert", cwd=work)
    assert cfg.returncode == 0, cfg.stderr[-3000:]
    assert "name: biosses" in cfg.stdout and "name: tiny_bert" in cfg.stdout

    data = make_biosses_like(tmp_path / "data")
    job = _run(bin_dir / "blurb-lab", "task=biosses", "model=tiny_bert", "trainer.max_epochs=1",
               "trainer.enable_progress_bar=false", f"data.root={data}", cwd=work)  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    (results_file,) = (work / "multirun_outputs" / "runs").glob("*/*/results.json")
    results = json.loads(results_file.read_text())
    assert results["status"] == "ok", results
    assert results["provenance"]["source"] == "installed" and results["provenance"]["commit"] is None
    assert results["provenance"]["blurb_lab"] == results["versions"]["blurb_lab"]
    assert sorted(p.name for p in work.iterdir()) == ["multirun_outputs"]
