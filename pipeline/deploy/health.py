"""Health checks: poll a service's health path until it answers 2xx, it dies, or time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

POLL_SECONDS = 0.1
REQUEST_SECONDS = 2.0


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    detail: str


def wait_healthy(url: str, *, timeout: float, is_alive: Callable[[], bool]) -> HealthResult:
    """Healthy means one 2xx from `url`. Stops early when the process or container has exited."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=REQUEST_SECONDS, trust_env=False) as client:
        while True:
            try:
                response = client.get(url)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                # Alive too: if our process lost the port race, another server may be the one answering.
                if response.is_success and is_alive():
                    return HealthResult(True, f"{url} answered {response.status_code}")
                last = f"{url} answered {response.status_code}"
            if not is_alive():
                return HealthResult(False, f"exited before becoming healthy (last check: {last})")
            if time.monotonic() >= deadline:
                return HealthResult(False, f"not healthy within {timeout:g} s (last check: {last})")
            time.sleep(POLL_SECONDS)
