"""Dashboard fixtures: one forge (with its people and repository) per module, a dashboard per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.rig import People, Rig, make_people, start_rig
from tests.fixtures.forge import ForgeKit


@pytest.fixture(scope="module")
def people(module_forge_kit: ForgeKit) -> People:
    return make_people(module_forge_kit)


@pytest.fixture
def rig(module_forge_kit: ForgeKit, people: People, tmp_path: Path) -> Iterator[Rig]:
    rig = start_rig(module_forge_kit, people, tmp_path)
    yield rig
    rig.server.stop()
    rig.db.dispose()
