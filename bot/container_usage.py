"""Live CPU and memory figures for what the line costs: when someone asks (`intentops usage`, the Analytics
page), this installation's running containers (Docker backend) are sampled first, so the figures shown
are current rather than those of the last stop or the last time someone asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import docker
from docker.errors import DockerException
from requests import RequestException

from bot.settings import Settings
from pipeline.deploy import Backend
from pipeline.deploy.samples import ContainerSamples
from pipeline.deploy.wiring import DeploySetup
from pipeline.state import Database

NOT_SAMPLED = (
    "the running containers' CPU and memory were not sampled (figures as of their last sample): {reason}"
)
ENGINE_TIMEOUT_SECONDS = 10
"""An engine that does not answer within this holds up no one for long: the last figures are shown."""
PAGE_SAMPLE_SECONDS = 60.0
"""The Analytics page samples at most this often: reloading it does not add a sample per container."""


def sample_containers(settings: Settings, database: Database) -> str:
    """Sample the CPU and memory of this installation's running containers; why they could not be sampled,
    or "" (also when the backend is not Docker: there is nothing to sample)."""
    if Backend(settings.deploy_backend) is not Backend.DOCKER:
        return ""
    owner = DeploySetup(data_dir=settings.data_dir.absolute(), registry_url="", registry_token="").owner
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS)
        try:
            ContainerSamples(database).sample_live(client, owner=owner)
        finally:
            client.close()
    except (DockerException, RequestException) as exc:  # the engine is away, or went away meanwhile
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ""


class ThrottledSampler:
    """`sample_containers` at most once per `every` seconds; between, and while another request is
    sampling, the last answer."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        every: float = PAGE_SAMPLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._database = database
        self._every = every
        self._clock = clock
        self._last: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        last = self._last
        if last is not None and self._clock() - last[0] < self._every:
            return last[1]
        if not self._lock.acquire(blocking=False):
            return last[1] if last is not None else ""
        try:
            self._last = (self._clock(), sample_containers(self._settings, self._database))
            return self._last[1]
        finally:
            self._lock.release()
