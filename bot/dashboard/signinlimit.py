"""Slows down guessing at the sign-in form: a few refused tokens a minute, then wait.

Failures are counted per client address and per token prefix (its first characters: a guesser spreading
its tries over many addresses still hits the prefix limit). The counts are kept in this process's memory:
several bot processes each count on their own, and a restart forgets them; both only loosen the limit by
a small factor. Keys are hashed, so no piece of a tried token stays in memory.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable

MAX_FAILURES = 5
WINDOW_SECONDS = 60.0
PREFIX_CHARS = 12
MAX_KEYS = 100_000
"""Past this many keys the oldest are forgotten, so a flood of addresses cannot exhaust memory."""


def limit_keys(address: str, token: str) -> tuple[str, str]:
    """What a sign-in attempt is counted under: its address and its token's prefix."""
    prefix = hashlib.sha256(token[:PREFIX_CHARS].encode()).hexdigest()
    return f"address:{address}", f"prefix:{prefix}"


class SignInLimiter:
    """A sliding window of failure times per key."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[str]) -> int:
        """Seconds until any of `keys` may try again; 0 when all may now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= MAX_FAILURES:
                    wait = max(wait, times[0] + WINDOW_SECONDS - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
            while len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times
