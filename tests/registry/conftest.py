"""Registry fixtures: a real SQLite state database per test, and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.registry import RegistryStore
from pipeline.state import Database, default_sqlite_url


class ManualClock:
    """Time that moves only when the test says, so TTL expiry is exact."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(default_sqlite_url(tmp_path))
    db.create_all()
    yield db
    db.dispose()


@pytest.fixture
def store(database: Database, clock: ManualClock) -> RegistryStore:
    return RegistryStore(database, ttl=timedelta(seconds=30), clock=clock)
