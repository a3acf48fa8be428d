"""The API's tests share one rig per module: `tests.fixtures.api`."""

from tests.fixtures.api import api

__all__ = ["api"]
