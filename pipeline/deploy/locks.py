"""One deploy at a time per service name, across threads and processes on this machine (flock)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def service_lock(directory: Path, name: str) -> Iterator[None]:
    """Held while a service is deployed, undeployed or restarted; the kernel releases it if we die."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
