"""Shadow evaluation reports in the state database: saved once, read back typed.

The bot saves each report when a run ends; the PR that proposes adopting a candidate, the dashboard and
`intentops shadow` read them. A stored report that cannot be read back is said so rather than shown empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import ColumnElement, select

from pipeline.factory.contracts import Stage
from pipeline.ledger.tables import ShadowReportRow
from pipeline.shadow.model import ShadowReport, Verdict
from pipeline.state import Database

DEFAULT_HISTORY = 20
UNREADABLE = "report {id} is unreadable ({where}: {problem})"
NO_REPORT = "no shadow report {id}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UnknownReport(LookupError):
    pass


@dataclass(frozen=True)
class StoredReport:
    """A report as the store keeps it: where it came from, its verdict, and the typed report (None when it
    cannot be read back; `unreadable` says why)."""

    id: int
    repo: str
    stage: Stage
    candidate: str
    candidate_version: str
    verdict: Verdict
    created_at: datetime
    report: ShadowReport | None
    unreadable: str = ""

    @classmethod
    def of(cls, row: ShadowReportRow) -> StoredReport:
        report, problem = _read(row)
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return cls(
            id=row.id,
            repo=row.repo,
            stage=Stage(row.stage),
            candidate=row.candidate,
            candidate_version=row.candidate_version,
            verdict=Verdict(row.verdict),
            created_at=created,
            report=report,
            unreadable=problem,
        )


def _read(row: ShadowReportRow) -> tuple[ShadowReport | None, str]:
    try:
        return ShadowReport.from_json(row.report), ""
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        return None, UNREADABLE.format(id=row.id, where=where, problem=error["msg"])


class ShadowStore:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    def save(self, report: ShadowReport, *, repo: str = "", candidate_version: str = "") -> StoredReport:
        """Keep `report` (of a run on `repo`'s history; "" for the bundled one) and give it its id."""
        with self._db.session() as session:
            row = ShadowReportRow(
                repo=repo,
                stage=report.stage.value,
                candidate=report.candidate,
                candidate_version=candidate_version,
                verdict=report.verdict.value,
                report=report.to_json(),
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            return StoredReport.of(row)

    def get(self, report_id: int) -> StoredReport:
        with self._db.session() as session:
            row = session.get(ShadowReportRow, report_id)
            if row is None:
                raise UnknownReport(NO_REPORT.format(id=report_id))
            return StoredReport.of(row)

    def latest(
        self,
        stage: Stage,
        *,
        repo: str | None = None,
        candidate: str | None = None,
        candidate_version: str | None = None,
    ) -> StoredReport | None:
        """The newest report on `stage`, narrowed to a repository, a candidate and its version if given."""
        found = self.history(
            stage=stage, repo=repo, candidate=candidate, candidate_version=candidate_version, limit=1
        )
        return found[0] if found else None

    def history(
        self,
        *,
        stage: Stage | None = None,
        repo: str | None = None,
        candidate: str | None = None,
        candidate_version: str | None = None,
        limit: int = DEFAULT_HISTORY,
    ) -> list[StoredReport]:
        """Reports, newest first."""
        conditions = _conditions(
            stage=stage, repo=repo, candidate=candidate, candidate_version=candidate_version
        )
        query = select(ShadowReportRow).where(*conditions)
        query = query.order_by(ShadowReportRow.created_at.desc(), ShadowReportRow.id.desc()).limit(limit)
        with self._db.session() as session:
            return [StoredReport.of(row) for row in session.scalars(query)]


def _conditions(
    *, stage: Stage | None, repo: str | None, candidate: str | None, candidate_version: str | None
) -> list[ColumnElement[bool]]:
    wanted = {
        ShadowReportRow.stage: stage.value if stage is not None else None,
        ShadowReportRow.repo: repo,
        ShadowReportRow.candidate: candidate,
        ShadowReportRow.candidate_version: candidate_version,
    }
    return [column == value for column, value in wanted.items() if value is not None]
