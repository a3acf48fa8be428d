"""The last policy set that loaded, kept in the state database per repository.

A bot restarted while a repository's policy files are broken, or a second worker process that never saw
them load, still governs with the last good set instead of having none (every intent needing approval).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.state import Base, Database


class KeptPolicySet(Base):
    __tablename__ = "policy_sets"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    files: Mapped[str] = mapped_column(Text)  # JSON: path -> base64 of the file's bytes
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyKeeper:
    """Saves and reads back the source files of one scope's (a repository's) last good policy set."""

    def __init__(self, database: Database, scope: str) -> None:
        self._database = database
        self._scope = scope

    def save(self, files: Mapping[str, bytes]) -> None:
        encoded = json.dumps(
            {path: base64.b64encode(content).decode("ascii") for path, content in sorted(files.items())}
        )
        now = datetime.now(UTC)
        with self._database.session() as session:
            # One statement: workers saving a repository's first set at once would otherwise both INSERT.
            insert: Any = (
                postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            )
            statement = insert(KeptPolicySet).values(scope=self._scope, files=encoded, saved_at=now)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[KeptPolicySet.scope],
                    set_={"files": statement.excluded.files, "saved_at": statement.excluded.saved_at},
                    where=KeptPolicySet.files != statement.excluded.files,
                )
            )

    def load(self) -> dict[str, bytes] | None:
        with self._database.session() as session:
            row = session.get(KeptPolicySet, self._scope)
            if row is None:
                return None
            return {path: base64.b64decode(text) for path, text in json.loads(row.files).items()}
