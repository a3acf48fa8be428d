"""Service venvs for local-process deploys: built offline from the local wheelhouse, cached by requirements.

`VenvProvider` is what the local runtime needs; `WheelhouseVenvs` adapts `pipeline.wheelhouse.cached_venv`
(one venv per distinct requirements file, `--no-index --find-links WHEELHOUSE`), so a deploy never reaches
a package index.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

from pipeline.deploy.model import PrepareError
from pipeline.wheelhouse import WheelhouseError, cached_venv, venv_python

REQUIREMENTS_FILE = "requirements.txt"


class VenvError(PrepareError):
    """A venv could not be built (missing wheelhouse, unresolvable requirement)."""


class VenvProvider(Protocol):
    def python_for(self, service_dir: Path) -> Path:
        """The interpreter of a venv holding the service's pinned requirements."""
        ...


class WheelhouseVenvs:
    """One cached venv per requirements file content, built from the wheelhouse with no index."""

    def __init__(self, wheelhouse: Path, cache_dir: Path, *, python: str = sys.executable) -> None:
        self.wheelhouse = wheelhouse
        self.cache_dir = cache_dir
        self._python = python

    def python_for(self, service_dir: Path) -> Path:
        requirements = service_dir / REQUIREMENTS_FILE
        if not requirements.is_file():
            raise VenvError(f"{requirements}: missing (a generated service pins its dependencies there)")
        try:
            venv = cached_venv(
                requirements.read_text(encoding="utf-8"),
                wheelhouse=self.wheelhouse,
                cache_dir=self.cache_dir,
                python=self._python,
            )
        except WheelhouseError as exc:
            raise VenvError(f"{service_dir.name}: {exc}") from None
        return venv_python(venv)
