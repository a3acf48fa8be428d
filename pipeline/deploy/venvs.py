"""Service venvs for local-process deploys: built offline from a local wheelhouse, cached by requirements.

`VenvProvider` is what the local runtime needs; `WheelhouseVenvs` builds one venv per distinct
requirements file with `pip install --no-index --find-links WHEELHOUSE`, so a deploy never reaches an index.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Protocol

REQUIREMENTS_FILE = "requirements.txt"
READY_MARKER = ".intentops-ready"
INSTALL_TIMEOUT_SECONDS = 600


class VenvError(RuntimeError):
    """A venv could not be built (missing wheelhouse, unresolvable requirement); carries pip's output."""


class VenvProvider(Protocol):
    def python_for(self, service_dir: Path) -> Path:
        """The interpreter of a venv holding the service's pinned requirements."""
        ...


class WheelhouseVenvs:
    """One cached venv per requirements file content, built from a wheelhouse with no index."""

    def __init__(self, wheelhouse: Path, cache_dir: Path, *, python: str = sys.executable) -> None:
        self.wheelhouse = wheelhouse
        self.cache_dir = cache_dir
        self._python = python

    def python_for(self, service_dir: Path) -> Path:
        requirements = service_dir / REQUIREMENTS_FILE
        if not requirements.is_file():
            raise VenvError(f"{requirements}: missing (a generated service pins its dependencies there)")
        target = self.cache_dir / self._key(requirements)
        if not (target / READY_MARKER).is_file():
            self._build(requirements, target)
        return target / "bin" / "python"

    def _key(self, requirements: Path) -> str:
        digest = hashlib.sha256(requirements.read_bytes())
        digest.update(sys.version.encode())
        return digest.hexdigest()[:16]

    def _build(self, requirements: Path, target: Path) -> None:
        if not self.wheelhouse.is_dir():
            raise VenvError(f"wheelhouse {self.wheelhouse} does not exist; prepare it at set-up time")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # Built beside the target and renamed into place, so a half-built venv is never used.
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=self.cache_dir))
        try:
            self._run([self._python, "-m", "venv", str(staging)])
            self._run(
                [
                    str(staging / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-index",
                    "--disable-pip-version-check",
                    "--find-links",
                    str(self.wheelhouse),
                    "-r",
                    str(requirements),
                ]
            )
            (staging / READY_MARKER).write_text(requirements.read_text(encoding="utf-8"), encoding="utf-8")
            if (target / READY_MARKER).is_file():  # another deployer built it meanwhile
                return
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _run(command: list[str]) -> None:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
        )
        if done.returncode != 0:
            raise VenvError(f"{' '.join(command[:4])}... failed:\n{(done.stdout + done.stderr)[-2000:]}")
