"""What the line tested per pull request head, and the pull requests that change what governs it.

Only a head the line tested green may be signed off, merged by the bot and deployed: a head the line built
itself is recorded when its build's tests ran; a commit anyone else pushed is recorded once the line has
tested it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from pipeline.governance.decision import Decision
from pipeline.ledger.ledger import utcnow
from pipeline.ledger.tables import GovernedPullRow, TestedHeadRow
from pipeline.state import Database


class TestedBy(StrEnum):
    __test__ = False  # not a test case, whatever its name
    BUILD = "build"
    """The line's own commit, tested as part of its build."""
    RETEST = "retest"
    """A commit someone else pushed to the intent's branch, tested again by the line."""


@dataclass(frozen=True)
class TestedHead:
    """A pull request head whose service the line tested (see `TestedHeadRow`)."""

    __test__ = False  # not a test case, whatever its name

    head_sha: str
    ok: bool
    by: TestedBy
    pushed_by: str
    summary: str
    at: datetime


@dataclass(frozen=True)
class GovernedPull:
    """A pull request changing what governs the line, with its decision and plan (see `GovernedPullRow`)."""

    repo: str
    number: int
    head_sha: str
    author: str
    files: tuple[str, ...]
    decision: Decision
    plan: dict[str, Any] | None


class Checks:
    """What the line tested per pull request head, and the pull requests that change its governance."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    def record_tested(
        self, intent_id: int, *, head_sha: str, ok: bool, by: TestedBy, pushed_by: str = "", summary: str = ""
    ) -> None:
        """Record (or replace) the result of testing `head_sha` for the intent."""
        with self._db.session() as session:
            row = session.scalar(
                select(TestedHeadRow).where(
                    TestedHeadRow.intent_id == intent_id, TestedHeadRow.head_sha == head_sha
                )
            )
            if row is None:
                row = TestedHeadRow(intent_id=intent_id, head_sha=head_sha)
                session.add(row)
            row.ok, row.by, row.pushed_by, row.summary = ok, by.value, pushed_by, summary
            row.at = self._clock()

    def tested(self, intent_id: int, head_sha: str) -> TestedHead | None:
        with self._db.session() as session:
            row = session.scalar(
                select(TestedHeadRow).where(
                    TestedHeadRow.intent_id == intent_id, TestedHeadRow.head_sha == head_sha
                )
            )
            if row is None:
                return None
            return TestedHead(row.head_sha, row.ok, TestedBy(row.by), row.pushed_by, row.summary, row.at)

    def pusher_of(self, intent_id: int, head_sha: str) -> str:
        """Who pushed `head_sha` when the line did not build it (their approval of it does not count)."""
        tested = self.tested(intent_id, head_sha)
        return tested.pushed_by if tested is not None and tested.by is TestedBy.RETEST else ""

    def save_governed_pull(self, pull: GovernedPull) -> None:
        with self._db.session() as session:
            row = session.scalar(
                select(GovernedPullRow).where(
                    GovernedPullRow.repo == pull.repo, GovernedPullRow.number == pull.number
                )
            )
            if row is None:
                row = GovernedPullRow(repo=pull.repo, number=pull.number)
                session.add(row)
            row.head_sha, row.author, row.files = pull.head_sha, pull.author, list(pull.files)
            row.decision, row.plan, row.updated_at = pull.decision.to_json(), pull.plan, self._clock()

    def governed_pull(self, repo: str, number: int) -> GovernedPull | None:
        with self._db.session() as session:
            row = session.scalar(
                select(GovernedPullRow).where(GovernedPullRow.repo == repo, GovernedPullRow.number == number)
            )
            if row is None:
                return None
            return GovernedPull(
                row.repo,
                row.number,
                row.head_sha,
                row.author,
                tuple(row.files),
                Decision.from_json(row.decision),
                row.plan,
            )
