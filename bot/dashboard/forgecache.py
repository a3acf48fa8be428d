"""A short-lived cache of what the forge said about an intent, for display only.

The approvals page asks the forge several questions per pending intent; a person reloading it should not
pay for them again every time. Entries are keyed by the user, the intent and the ledger's own version of
it (head and last update), so anything the bot records about the intent makes them stale at once. Actions
never read this cache: approve, reject and merge ask the forge again, and forget the user's entries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

from fastapi import Request

from bot.dashboard.sessions import User
from pipeline.ledger import IntentRecord

T = TypeVar("T")
MAX_ENTRIES = 2000
FORGE_CONCURRENCY = 8


ViewKey = tuple[str, int, str, str]


def view_key(login: str, record: IntentRecord) -> ViewKey:
    return (login.lower(), record.id, record.head_sha, record.updated_at.isoformat())


class ForgeViewCache(Generic[T]):
    def __init__(self, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[ViewKey, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: ViewKey) -> T | None:
        with self._lock:
            hit = self._entries.get(key)
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    def put(self, key: ViewKey, value: T) -> None:
        if self._ttl <= 0:
            return
        now = self._clock()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + self._ttl, value)

    def forget(self, login: str, intent_id: int) -> None:
        """After the user acted on an intent: their next look asks the forge again."""
        with self._lock:
            stale = [key for key in self._entries if key[:2] == (login.lower(), intent_id)]
            for key in stale:
                del self._entries[key]


class _View(Protocol):
    @property
    def error(self) -> str: ...


V = TypeVar("V", bound=_View)


def cached_views(
    cache: ForgeViewCache[Any], user: User, records: list[IntentRecord], make: Callable[[IntentRecord], V]
) -> list[V]:
    """`make(record)` for each record not in the cache, side by side (each call builds its own forge
    client: PyGithub's objects are not shared between threads). Answers with an error are not kept."""
    keys = [view_key(user.login, record) for record in records]
    found: list[V | None] = [cache.get(key) for key in keys]
    missing = [i for i, value in enumerate(found) if value is None]
    if missing:
        with ThreadPoolExecutor(max_workers=min(FORGE_CONCURRENCY, len(missing))) as pool:
            made = list(pool.map(make, [records[i] for i in missing]))
        for i, value in zip(missing, made, strict=True):
            found[i] = value
            if not value.error:
                cache.put(keys[i], value)
    return [value for value in found if value is not None]


def forge_cache(request: Request) -> ForgeViewCache[Any]:
    cache: ForgeViewCache[Any] = request.app.state.forge_cache
    return cache
