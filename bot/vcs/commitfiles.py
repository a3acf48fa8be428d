"""Files as a commit holds them, read from the forge once per process.

A file at a commit SHA never changes, so a push of many intents need not fetch each pushed file once per
intent (every intent checks the others for its service name), nor a build fetch again what its read job
fetched, nor every build of one push fetch the same policies and blueprint. Reads at a branch name (its
head moves) always go to the forge. Parsed intents are kept by content hash the same way.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

from bot.vcs.client import RepoClient
from pipeline.intents import Intent, InvalidIntent, load_intent

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
"""A full commit id (SHA-1 or SHA-256 repositories): what a read may be cached under."""
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
ENTRY_OVERHEAD = 256
"""What an entry costs besides its content, counted so that many small entries stay bounded too."""

T = TypeVar("T")
_MISSING = object()


class CommitFiles:
    """A bounded, thread-safe cache of (repository, commit, path) -> content, shared by the workers."""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, ...], tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def reader(self, repo: RepoClient) -> RepoClient:
        """`repo` with its reads at commit SHAs answered from here; everything else goes to `repo`."""
        return cast(RepoClient, _CachedReads(repo, self))

    def read_file(self, repo: RepoClient, path: str, ref: str) -> bytes | None:
        key = ("file", repo.full_name, ref, path)
        return self._through(key, ref, lambda: repo.read_file(path, ref), _size_of)

    def list_dir(self, repo: RepoClient, path: str, ref: str) -> list[str]:
        key = ("dir", repo.full_name, ref, path)
        return list(self._through(key, ref, lambda: repo.list_dir(path, ref), _size_of))

    def intent(self, data: bytes, *, source: str) -> Intent | None:
        """`data` loaded as an intent, None when it is not a valid one; parsed once per content."""
        key = ("intent", hashlib.sha256(data).hexdigest())

        def parse() -> Intent | None:
            try:
                return load_intent(data, source=source)
            except InvalidIntent:
                return None

        return self._cached(key, parse, lambda _value: len(data))

    def _through(self, key: tuple[str, ...], ref: str, fetch: Callable[[], T], size: Callable[[T], int]) -> T:
        if not COMMIT_SHA.match(ref):
            return fetch()
        return self._cached(key, fetch, size)

    def _cached(self, key: tuple[str, ...], fetch: Callable[[], T], size: Callable[[T], int]) -> T:
        with self._lock:
            entry = self._entries.get(key, _MISSING)
            if entry is not _MISSING:
                self._entries.move_to_end(key)
                self.hits += 1
                return cast(tuple[T, int], entry)[0]
            self.misses += 1
        value = fetch()  # outside the lock: two workers may fetch the same file once each, never wrongly
        cost = size(value) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return value
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (value, cost)
                self._size += cost
            while self._size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped
        return value


def _size_of(value: object) -> int:
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, list):
        return sum(len(item) for item in value)
    return 0


class _CachedReads:
    """A RepoClient whose `read_file` and `list_dir` at commit SHAs go through a `CommitFiles`."""

    def __init__(self, repo: RepoClient, files: CommitFiles) -> None:
        self._repo = repo
        self._files = files

    def read_file(self, path: str, ref: str) -> bytes | None:
        return self._files.read_file(self._repo, path, ref)

    def list_dir(self, path: str, ref: str) -> list[str]:
        return self._files.list_dir(self._repo, path, ref)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)
