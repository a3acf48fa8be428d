"""Slows down guessing at the sign-in form: a few refused tokens a minute, then wait.

Failures are counted per client address and per token prefix (its first characters: a guesser spreading
its tries over many addresses still hits the prefix limit). The counts live in the state database, so
every bot process sharing it counts the same failures, and a restart forgets none. The client address is
the connection's peer, or what a proxy named in INTENTOPS_TRUSTED_PROXIES forwarded (`bot.serving`); a
header sent by anyone else is not believed. Keys are stored hashed: the table holds no address and no
piece of a tried token.

An attempt is recorded *before* the forge is asked, and counted after that record is committed: of
requests sent all at once, to one process or several, each sees at least the attempts committed before
its own, so no burst gets more than the limit past the check (it may hold up a few more than that). A
token the forge accepts (or an unreachable forge) takes its record back.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Double, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.state import Base, Database

MAX_FAILURES = 5
WINDOW_SECONDS = 60.0
PREFIX_CHARS = 12


class SignInFailureRow(Base):
    """One refused (or still being checked) sign-in, under one of its keys."""

    __tablename__ = "signin_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    attempted_at: Mapped[float] = mapped_column(Double, index=True)


def limit_keys(address: str, token: str) -> tuple[str, str]:
    """What a sign-in attempt is counted under: its address and its token's prefix."""
    return f"address:{address}", f"prefix:{token[:PREFIX_CHARS]}"


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt on record. `wait` > 0: refused before asking the forge, retry after that many
    seconds (and nothing stays on record)."""

    row_ids: tuple[int, ...]
    wait: int


class SignInLimiter:
    """A sliding window of failure times per key, in the state database. Times are epoch seconds."""

    def __init__(self, db: Database, *, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    def attempt(self, keys: Iterable[str]) -> Attempt:
        """Record an attempt under `keys`; refused (wait > 0, record taken back) when any key already has
        MAX_FAILURES within the window."""
        hashes = [_hashed(key) for key in keys]
        now = self._clock()
        with self._db.session() as session:
            expired = SignInFailureRow.attempted_at <= now - WINDOW_SECONDS
            session.execute(delete(SignInFailureRow).where(expired))
            rows = [SignInFailureRow(key_hash=key, attempted_at=now) for key in hashes]
            session.add_all(rows)
            session.flush()
            ids = tuple(row.id for row in rows)
        # Counted in a new transaction: it sees every attempt committed before this one's.
        wait = self._wait(hashes, ids, now)
        if wait:
            self.settle(Attempt(ids, wait))
        return Attempt(ids, wait)

    def settle(self, attempt: Attempt) -> None:
        """The attempt does not count as a failure (the token was accepted, or the forge never answered)."""
        with self._db.session() as session:
            session.execute(delete(SignInFailureRow).where(SignInFailureRow.id.in_(attempt.row_ids)))

    def _wait(self, hashes: list[str], own: tuple[int, ...], now: float) -> int:
        wait = 0.0
        with self._db.session() as session:
            for key in hashes:
                others = session.scalars(
                    select(SignInFailureRow.attempted_at)
                    .where(
                        SignInFailureRow.key_hash == key,
                        SignInFailureRow.attempted_at > now - WINDOW_SECONDS,
                        SignInFailureRow.id.not_in(own),
                    )
                    .order_by(SignInFailureRow.attempted_at)
                ).all()
                if len(others) >= MAX_FAILURES:
                    # Free again when the oldest of the last MAX_FAILURES leaves the window.
                    wait = max(wait, others[-MAX_FAILURES] + WINDOW_SECONDS - now)
        return math.ceil(wait) if wait > 0 else 0
