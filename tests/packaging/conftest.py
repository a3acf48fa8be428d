"""The built wheel and a fresh venv with it installed, shared by the packaging tests of one worker.

Offline: the wheel is built from a copy of the sources with the project's own setuptools (no build
isolation), and installed with the uv in .venv from uv's cache, constrained to requirements.lock (what
set-up installed, so every pinned wheel is in the cache). The venv is outside the checkout and its
`intentops` imports the installed package, never the sources.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.resources import SHIPPED

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".venv" / "bin" / "uv"
SOURCES = (
    "bot",
    "pipeline",
    "forge",
    *sorted({name.split("/")[0] for name in SHIPPED}),
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")
BUILD_TIMEOUT_S = 180


@dataclass(frozen=True)
class InstalledWheel:
    wheel: Path
    venv: Path

    @property
    def intentops(self) -> Path:
        return self.venv / "bin" / "intentops"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())


def _run(args: list[str | Path], cwd: Path) -> None:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    base = tmp_path_factory.mktemp("wheel")
    sources = base / "src"
    sources.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, sources / name, ignore=IGNORED)
        else:
            shutil.copy2(path, sources / name)
    dist = base / "dist"
    _run(
        # The source distribution first, then the wheel from it: what `uv build` and `python -m build` do.
        [UV, "build", "-q", "--offline", "--no-build-isolation", "--python", sys.executable]
        + ["-o", dist, sources],
        base,
    )
    (wheel,) = dist.glob("intentops-*.whl")
    venv = base / "venv"
    _run([UV, "venv", "-q", "--python", sys.executable, venv], base)
    _run(
        [UV, "pip", "install", "-q", "--offline", "--python", venv / "bin" / "python"]
        + ["-c", ROOT / "requirements.lock", wheel],
        base,
    )
    return InstalledWheel(wheel=wheel, venv=venv)
