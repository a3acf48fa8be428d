"""Text search over intents: every word of the query in the intent's name, author, file or purpose.

Names, authors and files are the ledger's; purposes are in the intent files, read from the forge as the
searching user (`intenttext`): a purpose counts only for someone who may read its repository, and files not
yet read are read now, side by side, up to MAX_READS per search (a later search reads the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.dashboard.context import DashboardContext
from bot.dashboard.intenttext import IntentFile, IntentTexts
from bot.dashboard.readmodel import QueueFilter, SearchRow, search_rows
from bot.dashboard.sessions import User
from bot.vcs.errors import ForgeError

MAX_QUERY = 200
MAX_WORDS = 12
MAX_READS = 500
READERS = 8


def words_of(query: str) -> tuple[str, ...]:
    """The query's words, lower case (at most MAX_WORDS of a query cut at MAX_QUERY characters)."""
    return tuple(query[:MAX_QUERY].lower().split()[:MAX_WORDS])


@dataclass(frozen=True)
class Found:
    ids: frozenset[int]
    unread: int
    """Intents whose purpose was not searched this time (past MAX_READS, or the forge did not answer)."""


def search(
    context: DashboardContext, user: User, texts: IntentTexts, words: Sequence[str], chosen: QueueFilter
) -> Found:
    rows = search_rows(context.db, chosen)
    readable = _readable_repos(context, user, texts, {row.repo for row in rows})
    files = {row.id: _file(row) for row in rows if row.repo in readable}
    unread = _read_missing(context, user, texts, [f for f in files.values() if texts.cached(f) is None])
    ids = set()
    for row in rows:
        text = texts.cached(files[row.id]) if row.id in files else None
        haystack = " ".join((row.service_name, row.author, row.path, text.purpose if text else "")).lower()
        if all(word in haystack for word in words):
            ids.add(row.id)
    return Found(frozenset(ids), unread)


def _file(row: SearchRow) -> IntentFile:
    return IntentFile(row.repo, row.path, row.content_hash, row.commit_sha, row.author)


def _readable_repos(context: DashboardContext, user: User, texts: IntentTexts, repos: set[str]) -> set[str]:
    readable = set()
    for repo in sorted(repos):
        try:
            if texts.access.can_read(context.repo_for_token(user.token, repo), user.login):
                readable.add(repo)
        except (ForgeError, OSError):
            continue  # the forge did not answer: this repository's purposes are not searched this time
    return readable


def _read_missing(
    context: DashboardContext, user: User, texts: IntentTexts, missing: list[IntentFile]
) -> int:
    """Read the files not kept yet (those with a commit on record), MAX_READS at most; returns how many
    could not be read."""
    readable = [f for f in missing if f.commit_sha]
    batch = readable[:MAX_READS]

    def read(file: IntentFile) -> bool:
        """False when the forge did not answer (a file that is gone simply has no purpose to search)."""
        try:
            texts.read(context.repo_for_token(user.token, file.repo), file)
        except (ForgeError, OSError):
            return False
        return True

    if not batch:
        return len(readable)
    with ThreadPoolExecutor(max_workers=min(READERS, len(batch))) as pool:
        answered = list(pool.map(read, batch))
    return len(readable) - sum(answered)
