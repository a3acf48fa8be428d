"""The factory's stages by name, and the contract versions they speak.

Kept apart from `contracts` (which needs the SPEC model) so that an intent can name a stage
(`implements: spec-builder@1`, `pipeline.intents.stagehints`) without importing the factory.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

CONTRACT_VERSION: Final = "1"
"""The contract version this line speaks (requests it sends, answers it accepts)."""
CONTRACT_VERSIONS: Final = (CONTRACT_VERSION,)
"""Every contract version a stage service may say it implements, oldest first."""


class Stage(StrEnum):
    """The factory's stages, in the order a build runs them."""

    ALIGNMENT_SCORER = "alignment-scorer"
    SPEC_BUILDER = "spec-builder"
    SPEC_VERIFIER = "spec-verifier"
    SPEC_OPTIMIZER = "spec-optimizer"
    CODE_GENERATOR = "code-generator"

    @property
    def seed_port(self) -> int:
        """Where the stage is served alone: the seed's port of the service it was."""
        return _SEED_PORTS[self]

    @property
    def route(self) -> str:
        """The path a stage service answers this stage's inline request at."""
        return _ROUTES[self]


_SEED_PORTS = {
    Stage.ALIGNMENT_SCORER: 8213,  # the seed's governance
    Stage.SPEC_BUILDER: 8207,
    Stage.SPEC_VERIFIER: 8205,
    Stage.SPEC_OPTIMIZER: 8206,
    Stage.CODE_GENERATOR: 8211,  # the seed's build-executor (its code half)
}
_ROUTES = {
    Stage.ALIGNMENT_SCORER: "/score",
    Stage.SPEC_BUILDER: "/build",
    Stage.SPEC_VERIFIER: "/verify",
    Stage.SPEC_OPTIMIZER: "/optimize",
    Stage.CODE_GENERATOR: "/generate",
}
