"""Registry fixtures: a store on the test's real state database, its time moved by the test's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.registry import RegistryStore
from pipeline.state import Database
from tests.fixtures.clock import ManualClock


@pytest.fixture
def store(database: Database, clock: ManualClock) -> RegistryStore:
    return RegistryStore(database, ttl=timedelta(seconds=30), clock=clock)
