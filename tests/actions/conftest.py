"""The actions rig (`tests/actions/rig.py`) for this folder's tests."""

from tests.actions.rig import actions_rig

__all__ = ["actions_rig"]
