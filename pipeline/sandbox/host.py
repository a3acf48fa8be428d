"""What a host must have before it runs the line's builds: a prepared wheelhouse (the services' test
venvs are installed from it, offline), a writable place for those venvs, and the sandbox's tools (a
network namespace of its own, and `setpriv` to leave root). A worker checks this before it takes a job,
so a host without them refuses to start instead of failing every build it claims.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.sandbox.runner import network_namespace_available
from pipeline.wheelhouse import STAMP

NO_WHEELHOUSE = "no prepared wheelhouse at {path} (run ./scripts/wheelhouse.sh there, or copy one)"
NO_VENV_CACHE = "cannot create the sandbox's venvs under {path}"
NO_NAMESPACE = "the sandbox cannot make a network namespace here (`unshare -n` fails)"
NO_SETPRIV = "the sandbox needs `setpriv` (util-linux) to run tests as an unprivileged user"


def sandbox_host_problems(*, wheelhouse: Path, venv_cache: Path) -> list[str]:
    """Why builds cannot run on this host, one short sentence each; empty when they can."""
    problems = []
    if not (wheelhouse / STAMP).is_file():
        problems.append(NO_WHEELHOUSE.format(path=wheelhouse))
    if not _writable(venv_cache):
        problems.append(NO_VENV_CACHE.format(path=venv_cache))
    if not network_namespace_available():
        problems.append(NO_NAMESPACE)
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        problems.append(NO_SETPRIV)
    return problems


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)
