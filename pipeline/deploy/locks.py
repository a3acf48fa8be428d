"""One deploy at a time per service name, across threads and processes on this machine (flock)."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.registry.model import SERVICE_NAME_PATTERN

NOT_A_SERVICE_NAME = "{name!r} is not a service name (a DNS label: lowercase letters, digits and '-')"


class InvalidServiceName(ValueError):
    """A name that is not a DNS label: it never names a service, a lock file or a data folder."""


def check_service_name(name: str) -> str:
    """`name` when it is a DNS label, as intents' service names are; InvalidServiceName otherwise."""
    if not re.fullmatch(SERVICE_NAME_PATTERN, name):
        raise InvalidServiceName(NOT_A_SERVICE_NAME.format(name=name))
    return name


@contextmanager
def service_lock(directory: Path, name: str) -> Iterator[None]:
    """Held while a service is deployed, undeployed or restarted; the kernel releases it if we die."""
    check_service_name(name)  # a name like '../x' would put the lock file outside `directory`
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
