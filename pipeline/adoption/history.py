"""Which implementation served each stage since when: one row per change of `line/stages.yaml` on the
default branch, so `intentops stages` and the dashboard show the lineage (builtin -> v2 -> v3, and back)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.factory.contracts import Stage
from pipeline.state import Base, Database


class StageAdoptionRow(Base):
    __tablename__ = "stage_adoptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(63))
    """A stage service's name, or `builtin`."""
    version: Mapped[str] = mapped_column(String(64), default="")
    contract: Mapped[str] = mapped_column(String(16), default="")
    shadow: Mapped[int | None] = mapped_column(Integer, nullable=True)
    commit_sha: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StageApprovalRow(Base):
    """A merge of the default branch that changed `line/stages.yaml` through a pull request whose sign-off
    was complete when it merged: only what such a merge names is routed to."""

    __tablename__ = "stage_approvals"
    __table_args__ = (UniqueConstraint("repo", "commit_sha", name="uq_stage_approvals_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo: Mapped[str] = mapped_column(String(200))
    commit_sha: Mapped[str] = mapped_column(String(64))
    pr_number: Mapped[int] = mapped_column(Integer)
    approvers: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Adoption:
    stage: Stage
    service: str
    version: str
    shadow: int | None
    commit_sha: str
    at: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StageHistory:
    def __init__(self, database: Database, clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = database
        self._clock = clock

    def record_change(
        self, repo: str, before: StageFile, after: StageFile, *, commit_sha: str
    ) -> list[Stage]:
        """Record every stage whose route differs between two versions of the file; returns those stages."""
        changed = [stage for stage in Stage if before.route(stage) != after.route(stage)]
        now = self._clock()
        with self._db.session() as session:
            for stage in changed:
                route: StageRoute = after.route(stage)
                session.add(
                    StageAdoptionRow(
                        repo=repo,
                        stage=stage.value,
                        service=route.service,
                        version=route.version,
                        contract=route.contract,
                        shadow=route.shadow,
                        commit_sha=commit_sha,
                        at=now,
                    )
                )
        return changed

    def lineage(self, repo: str, stage: Stage) -> list[Adoption]:
        """Every implementation the stage had in `repo`, oldest first (the built-in before any row)."""
        query = (
            select(StageAdoptionRow)
            .where(StageAdoptionRow.repo == repo, StageAdoptionRow.stage == stage.value)
            .order_by(StageAdoptionRow.id)
        )
        with self._db.session() as session:
            return [
                Adoption(stage, row.service, row.version, row.shadow, row.commit_sha, row.at)
                for row in session.scalars(query)
            ]

    def approve(self, repo: str, *, commit_sha: str, pr_number: int, approvers: tuple[str, ...]) -> None:
        """Record that the merge `commit_sha` was signed off (once; a redelivery changes nothing)."""
        try:
            with self._db.session() as session:
                session.add(
                    StageApprovalRow(
                        repo=repo,
                        commit_sha=commit_sha,
                        pr_number=pr_number,
                        approvers=", ".join(approvers)[:500],
                        at=self._clock(),
                    )
                )
        except IntegrityError:
            return

    def approved(self, repo: str, stage: Stage, route: StageRoute) -> bool:
        """Whether the change that gave `stage` its current `route` was merged with a complete sign-off."""
        current = next(
            (
                a
                for a in reversed(self.lineage(repo, stage))
                if (a.service, a.version) == (route.service, route.version)
            ),
            None,
        )
        if current is None:
            return False
        query = select(StageApprovalRow.id).where(
            StageApprovalRow.repo == repo, StageApprovalRow.commit_sha == current.commit_sha
        )
        with self._db.session() as session:
            return session.scalar(query) is not None

    def repos(self) -> list[str]:
        with self._db.session() as session:
            return sorted(set(session.scalars(select(StageAdoptionRow.repo))))
