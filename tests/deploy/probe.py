"""A client that keeps calling a service by its registry name, as its users would, and counts failures."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import httpx

from pipeline.registry import RegistryStore


@dataclass
class Probe:
    """Resolves the name in the registry before every call, then calls `path` on whatever serves it."""

    registry: RegistryStore
    name: str
    path: str = "/hello"
    failures: list[str] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Probe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)

    @property
    def calls(self) -> int:
        return sum(self.versions.values()) + len(self.failures)

    def _run(self) -> None:
        with httpx.Client(timeout=5, trust_env=False) as client:
            while not self._stop.is_set():
                entry = self.registry.get(self.name)
                if entry is None:
                    self.failures.append("not in the registry")
                    continue
                try:
                    response = client.get(entry.url + self.path)
                    response.raise_for_status()
                    self.versions[response.json()["version"]] += 1
                except httpx.HTTPError as exc:
                    self.failures.append(f"{entry.version} at {entry.url}: {exc!r}")
