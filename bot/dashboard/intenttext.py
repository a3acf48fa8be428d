"""Intent files as the line governed them, read from the forge as the signed-in user, once per content.

The ledger keeps an intent's name, state and decision, not its text; git does. The intent page shows the
purpose and explains the decision with the intent's own values, the approvals card shows the intent first,
and search looks in purposes: each reads the file at the commit it was governed at. An intent's content at
that commit never changes, so entries are kept by (repository, path, content hash) and never go stale; the
oldest are dropped past MAX_ENTRIES.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from bot.reports import rule_values
from bot.vcs.client import RepoClient
from bot.vcs.errors import Forbidden, NotFound
from pipeline.intents import Intent, InvalidIntent, load_intent
from pipeline.ledger import IntentRecord

MAX_ENTRIES = 4096
MAX_BYTES = 256 * 1024
ACCESS_SECONDS = 60.0
"""How long "this user may read this repository" is believed before the forge is asked again."""

Key = tuple[str, str, str]


@dataclass(frozen=True)
class IntentText:
    """The file as committed, and the intent it makes (None when it no longer validates)."""

    text: str
    intent: Intent | None
    variables: dict[str, Any] | None
    """What the policy rules saw of it (`bot.reports.rule_values`)."""

    @property
    def purpose(self) -> str:
        return self.intent.purpose if self.intent else ""


@dataclass(frozen=True)
class IntentFile:
    """Where an intent's governed content lives: enough to read it, from a ledger record or a row."""

    repo: str
    path: str
    content_hash: str
    commit_sha: str
    author: str

    @classmethod
    def of(cls, record: IntentRecord) -> IntentFile:
        return cls(record.repo, record.path, record.content_hash, record.commit_sha, record.author)

    @property
    def key(self) -> Key:
        return (self.repo, self.path, self.content_hash)


def parse(data: bytes, *, path: str, author: str) -> IntentText:
    text = data[:MAX_BYTES].decode("utf-8", errors="replace")
    try:
        intent: Intent | None = load_intent(data, source=path)
    except InvalidIntent:
        intent = None
    return IntentText(text, intent, rule_values(data, source=path, author=author) if intent else None)


class ReadAccess:
    """Whether a user may read a repository, as the forge last said (for ACCESS_SECONDS): the texts are
    shared by everyone, so each is shown only to people who could read it themselves."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._answers: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def can_read(self, client: RepoClient, login: str) -> bool:
        key = (login.lower(), client.full_name)
        with self._lock:
            known = self._answers.get(key)
        if known is not None and known[0] > self._clock():
            return known[1]
        try:
            client.default_branch()
            allowed = True
        except (Forbidden, NotFound):
            allowed = False
        with self._lock:
            self._answers[key] = (self._clock() + ACCESS_SECONDS, allowed)
        return allowed


class IntentTexts:
    """Intent files by (repository, path, content hash), read at the commit the line governed."""

    def __init__(self) -> None:
        self._texts: OrderedDict[Key, IntentText] = OrderedDict()
        self._lock = threading.Lock()
        self.access = ReadAccess()

    def for_user(self, client: RepoClient, login: str, record: IntentRecord) -> IntentText | None:
        """The text, for a user who may read its repository (None otherwise, or when it cannot be read)."""
        if not self.access.can_read(client, login):
            return None
        return self.read(client, IntentFile.of(record))

    def cached(self, file: IntentFile) -> IntentText | None:
        """What is kept, whoever read it: callers check the user's access first (`access`)."""
        with self._lock:
            return self._texts.get(file.key)

    def read(self, client: RepoClient, record: IntentFile) -> IntentText | None:
        """The file at the commit it was governed at, read as this client's user (None: there is no such
        commit on record, the file is gone, or the user may not read it). Raises the forge's other errors."""
        key = record.key
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        if not record.commit_sha:
            return None
        try:
            data = client.read_file(record.path, record.commit_sha)
        except (Forbidden, NotFound):
            data = None
        if data is None:
            return None  # gone, or not this user's to read (a 404 either way): kept for nobody
        found = parse(data, path=record.path, author=record.author)
        with self._lock:
            self._texts[key] = found
            while len(self._texts) > MAX_ENTRIES:
                self._texts.popitem(last=False)
        return found


def intent_texts(request: Request) -> IntentTexts:
    texts: IntentTexts = request.app.state.intent_texts
    return texts
