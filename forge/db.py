"""The forge's SQLite database: engine, pragmas and a transaction helper."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from forge.models import ForgeBase

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets API readers run while a push or a merge writes; the busy timeout queues writers.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _private(path: Path) -> None:
    """The database (it holds webhook secrets and token hashes) made 0600 in a 0700 folder before SQLite
    opens it; SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    folder_mode = stat.S_IMODE(path.parent.stat().st_mode)
    if folder_mode & ~PRIVATE_DIR:  # created a moment ago by the forge for its repositories
        path.parent.chmod(folder_mode & PRIVATE_DIR)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


class ForgeDB:
    """Owns the engine; `session()` commits on success and rolls back on error."""

    def __init__(self, path: Path) -> None:
        _private(path)
        self.engine: Engine = create_engine(
            f"sqlite:///{path.resolve()}", connect_args={"timeout": 30, "check_same_thread": False}
        )
        event.listen(self.engine, "connect", _pragmas)
        ForgeBase.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
