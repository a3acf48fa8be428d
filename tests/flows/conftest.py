"""The flow tests run on the whole line (`tests/fixtures/line.py`), which they call `rig`."""

from __future__ import annotations

import pytest

from tests.fixtures.line import Rig


@pytest.fixture
def rig(line_rig: Rig) -> Rig:
    return line_rig
