"""One intent of the line's history as a plain record, as the read API serves it and as a service reading
that API rebuilds it (`IntentHistory.from_json`).

Nothing here touches a database: a service the line builds imports this (and `analysis`) from the stage kit,
which carries no database driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

NOT_A_RECORD = "item {index} of the page is not an intent of the line's history: {error}"


@dataclass(frozen=True)
class IntentHistory:
    id: int
    repo: str
    path: str
    service_name: str
    state: str
    author: str
    created_at: datetime
    updated_at: datetime
    outcome: str
    """What people decided (`pipeline.shadow.model.HumanOutcome`'s value)."""
    stages: tuple[dict[str, Any], ...]
    decisions: tuple[dict[str, Any], ...]
    spec: dict[str, Any] | None
    cost: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "repo": self.repo,
            "path": self.path,
            "service_name": self.service_name,
            "state": self.state,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "outcome": str(self.outcome),
            "stages": list(self.stages),
            "decisions": list(self.decisions),
            "spec": self.spec,
            "cost": self.cost,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IntentHistory:
        """The record `to_json` wrote; KeyError, TypeError or ValueError for anything else."""
        spec = data["spec"]
        if spec is not None and not isinstance(spec, dict):
            raise TypeError(f"spec must be an object or null, not {type(spec).__name__}")
        return cls(
            id=int(data["id"]),
            repo=str(data["repo"]),
            path=str(data["path"]),
            service_name=str(data["service_name"]),
            state=str(data["state"]),
            author=str(data["author"]),
            created_at=_moment(data["created_at"]),
            updated_at=_moment(data["updated_at"]),
            outcome=str(data["outcome"]),
            stages=tuple(dict(s) for s in data["stages"]),
            decisions=tuple(dict(d) for d in data["decisions"]),
            spec=spec,
            cost=dict(data["cost"]),
        )


def records_of(items: list[Any]) -> list[IntentHistory]:
    """The records of a page's `items`; ValueError naming the first item that is not one."""
    found = []
    for index, item in enumerate(items):
        try:
            found.append(IntentHistory.from_json(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(NOT_A_RECORD.format(index=index, error=f"{type(exc).__name__}: {exc}")) from None
    return found


def _moment(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
