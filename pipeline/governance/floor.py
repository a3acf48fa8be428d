"""The server-side floor: policies shipped with (or configured on) the bot that a repository's policies may
add to but never weaken, like Atlantis' server-side repo config.

The floor is evaluated with every decision, before the repository's policies, also when the repository's
policy files do not load. Its policies are marked as floor in the decision. Nothing a repository writes can
take one away: the strictest action wins, and each matching requires_approval policy's own requirement must
be met, so a repository's `auto_approve` for everything, or a policy of the same name asking for fewer
approvals, adds a policy beside the floor's and leaves the floor's demand standing.

The shipped floor is `policies/floor/floor.yaml` (a folder of its own, so copying `policies/*.yaml` into an
intents repository does not also copy the floor into the repository's set). A configured floor that does
not load is a startup error naming file and line: the bot must not run with a floor it cannot read.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.governance.loading import (
    PolicyLoadError,
    PolicySet,
    load_policy_sources,
    read_policy_path,
)
from pipeline.governance.policy import PolicyProblem
from pipeline.governance.rules import DEFAULT_LIMITS, RuleLimits
from pipeline.resources import resource_path

SHIPPED_FLOOR = resource_path("policies/floor/floor.yaml")
SHIPPED_FLOOR_NAME = "policies/floor/floor.yaml"
"""How the shipped floor's policies name their file in decisions (the path in this project)."""
FLOOR_DOES_NOT_LOAD = "the policy floor does not load"


class FloorLoadError(PolicyLoadError):
    """The floor cannot be used. `str()` is one line per problem, each `file:line:column: message`, under a
    first line saying it is the floor; `problems` holds them for callers that show them their own way."""

    def __str__(self) -> str:
        return "\n".join([f"{FLOOR_DOES_NOT_LOAD}:", *(f"  {problem}" for problem in self.problems)])


def load_floor(path: Path | None, *, limits: RuleLimits = DEFAULT_LIMITS) -> PolicySet:
    """The floor's policies: the shipped floor file when `path` is None, else the policy file or the directory
    of policy files at `path`. Raises FloorLoadError (file:line of every problem) if it does not load."""
    try:
        if path is None:
            return load_policy_sources({SHIPPED_FLOOR_NAME: _read_shipped()}, limits=limits)
        return load_policy_sources(read_policy_path(path), limits=limits)
    except PolicyLoadError as exc:
        raise FloorLoadError(exc.problems) from None


def _read_shipped() -> bytes:
    try:
        return SHIPPED_FLOOR.read_bytes()
    except OSError as exc:
        problem = PolicyProblem(SHIPPED_FLOOR_NAME, 0, 0, f"cannot read the file: {exc.strerror or exc}")
        raise PolicyLoadError([problem]) from None
