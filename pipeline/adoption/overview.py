"""Each stage of the line at a glance, per repository: what serves it, since when, the lineage that led
there, its live error rate and whether it is suspended. What `intentops stages` prints and the dashboard's
Stages page shows; read from the state database only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.adoption.health import ErrorRate, StageHealth
from pipeline.adoption.history import Adoption, StageHistory
from pipeline.adoption.stagefile import BUILTIN, StageRoute
from pipeline.factory.contracts import CONTRACT_VERSION, Stage
from pipeline.state import Database

ERROR_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class StageStatus:
    stage: Stage
    serving: str
    """A stage service's name, or `builtin`."""
    version: str
    since: datetime | None
    """When `line/stages.yaml` on the default branch last changed this stage (None: built in all along)."""
    shadow: int | None
    """The shadow report that proved the adopted service."""
    lineage: tuple[Adoption, ...]
    errors: ErrorRate
    """The serving service's calls and failures in the last 24 hours (nothing for the built-in)."""
    suspended: str
    """Why the line stopped routing to the serving service ("" when it routes to it)."""
    signed_off: bool = True
    """False when the change naming the service merged without a complete sign-off: the built-in serves."""

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "contract": CONTRACT_VERSION,
            "serving": self.serving,
            "version": self.version,
            "since": self.since.isoformat() if self.since else None,
            "shadow_report": self.shadow,
            "lineage": [
                {"service": a.service, "version": a.version, "commit": a.commit_sha, "at": a.at.isoformat()}
                for a in self.lineage
            ],
            "calls_24h": self.errors.calls,
            "failures_24h": self.errors.failures,
            "error_rate_24h": round(self.errors.rate, 4),
            "suspended": self.suspended,
            "signed_off": self.signed_off,
        }


def stage_overview(database: Database, repo: str, *, now: datetime) -> list[StageStatus]:
    """Every stage in the line's order, for `repo`."""
    history = StageHistory(database)
    health = StageHealth(database)
    statuses = []
    for stage in Stage:
        lineage = tuple(history.lineage(repo, stage))
        latest = lineage[-1] if lineage else None
        serving = latest.service if latest else BUILTIN
        errors = ErrorRate(0, 0)
        suspended = ""
        signed_off = True
        if serving != BUILTIN and latest is not None:
            route = StageRoute(stage, serving, version=latest.version)
            signed_off = history.approved(repo, stage, route)
            errors = health.error_rate(repo, stage.value, serving, since=now - ERROR_WINDOW)
            suspension = health.suspension(repo, stage.value, serving)
            suspended = suspension.reason if suspension else ""
        statuses.append(
            StageStatus(
                stage=stage,
                serving=serving,
                version=latest.version if latest else "",
                since=latest.at if latest else None,
                shadow=latest.shadow if latest else None,
                lineage=lineage,
                errors=errors,
                suspended=suspended,
                signed_off=signed_off,
            )
        )
    return statuses


def known_repos(database: Database) -> list[str]:
    """Repositories whose stages ever changed hands."""
    return StageHistory(database).repos()
