"""The monitor's filings: one row per improvement intent it filed, claimed before the pull request opens.

Two constraints make filing safe with several workers: a rule has at most one open filing
(`open_rule` is the rule's name while its pull request is open, NULL after; NULLs never collide), and a
day has at most `max_per_day` slots. A claim that loses either race is refused, never doubled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.state import Base, Database


class MonitorFilingRow(Base):
    __tablename__ = "monitor_filings"
    __table_args__ = (
        UniqueConstraint("repo", "open_rule", name="uq_monitor_filings_open"),
        UniqueConstraint("repo", "day", "slot", name="uq_monitor_filings_slot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(48))
    open_rule: Mapped[str | None] = mapped_column(String(48), nullable=True)
    day: Mapped[str] = mapped_column(String(10))
    slot: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(300))
    pr_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Filing:
    id: int
    repo: str
    rule: str
    path: str
    pr_number: int | None
    open: bool
    filed_at: datetime


def _filing(row: MonitorFilingRow) -> Filing:
    return Filing(
        row.id, row.repo, row.rule, row.path, row.pr_number, row.open_rule is not None, row.filed_at
    )


class FilingStore:
    def __init__(self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db = db
        self._clock = clock

    def open_filings(self, repo: str) -> list[Filing]:
        with self._db.session() as session:
            rows = session.scalars(
                select(MonitorFilingRow).where(
                    MonitorFilingRow.repo == repo, MonitorFilingRow.open_rule.is_not(None)
                )
            ).all()
            return [_filing(row) for row in rows]

    def filed_today(self, repo: str) -> int:
        day = self._clock().date().isoformat()
        with self._db.session() as session:
            count = session.scalar(
                select(func.count()).where(MonitorFilingRow.repo == repo, MonitorFilingRow.day == day)
            )
        return int(count or 0)

    def claim(self, repo: str, *, rule: str, path: str, max_per_day: int) -> Filing | None:
        """Take the rule's open slot and one of today's; None when the rule has an open filing or the day's
        slots are gone (another worker may have just taken them)."""
        now = self._clock()
        day = now.date().isoformat()
        for slot in range(max_per_day):
            try:
                with self._db.session() as session:
                    row = MonitorFilingRow(
                        repo=repo, rule=rule, open_rule=rule, day=day, slot=slot, path=path, filed_at=now
                    )
                    session.add(row)
                    session.flush()
                    return _filing(row)
            except IntegrityError:
                if self._rule_open(repo, rule):
                    return None
        return None

    def unfinished(self, repo: str, rule: str) -> Filing | None:
        """The rule's open filing whose pull request was never noted (its job stopped half-way): a retry
        of that job finishes it instead of waiting for the claim to lapse."""
        with self._db.session() as session:
            row = session.scalar(
                select(MonitorFilingRow).where(
                    MonitorFilingRow.repo == repo,
                    MonitorFilingRow.open_rule == rule,
                    MonitorFilingRow.pr_number.is_(None),
                )
            )
            return _filing(row) if row is not None else None

    def _rule_open(self, repo: str, rule: str) -> bool:
        with self._db.session() as session:
            found = session.scalar(
                select(MonitorFilingRow.id).where(
                    MonitorFilingRow.repo == repo, MonitorFilingRow.open_rule == rule
                )
            )
        return found is not None

    def note_pull(self, filing_id: int, number: int) -> None:
        with self._db.session() as session:
            session.execute(
                update(MonitorFilingRow).where(MonitorFilingRow.id == filing_id).values(pr_number=number)
            )

    def close(self, filing_id: int) -> None:
        """The filing's pull request is closed (merged or not): the rule may file again."""
        with self._db.session() as session:
            session.execute(
                update(MonitorFilingRow).where(MonitorFilingRow.id == filing_id).values(open_rule=None)
            )
