"""What a policy rule can see: every intent field, plus values computed from the intent and the push."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.intents import Intent

# The assembly line's own stages (DESIGN.md): an intent naming one of them changes the line itself.
LINE_STAGES = (
    "spec-builder",
    "spec-verifier",
    "spec-optimizer",
    "governance",
    "build-executor",
    "sovereign-factory",
    "intent-queue",
    "registry",
    "approval-dashboard",
)
# `spec-builder-v2`, `governance-v10-fast`: a stage's name followed by a version suffix.
_VERSIONED_STAGE = re.compile(rf"^(?:{'|'.join(map(re.escape, LINE_STAGES))})-v\d+(?:-[a-z0-9-]+)?$")

COMPUTED_VARIABLES = (
    "alignment_score",
    "alignment_method",
    "is_self_modification",
    "author",
    "changed_files",
)


def known_variables() -> frozenset[str]:
    """Every name a rule may read."""
    return frozenset(Intent.model_fields) | frozenset(COMPUTED_VARIABLES)


def is_self_modification(service_name: str) -> bool:
    """True when the intent targets one of the line's own stages, directly or as a `-vN` version."""
    return service_name in LINE_STAGES or bool(_VERSIONED_STAGE.match(service_name))


@dataclass(frozen=True)
class PushContext:
    """What the caller knows about where the intent came from (the bot: from the push event)."""

    author: str = ""
    changed_files: tuple[str, ...] = ()

    @classmethod
    def of(cls, *, author: str = "", changed_files: Sequence[str] = ()) -> PushContext:
        return cls(author=author, changed_files=tuple(changed_files))


def rule_variables(
    intent: Intent,
    context: PushContext,
    *,
    alignment_score: float | None,
    alignment_method: str,
) -> dict[str, Any]:
    """The variables for one evaluation. Without a score, `alignment_score` is absent, so rules that read
    it report an error instead of matching."""
    variables = intent.rule_variables()
    variables.update(
        alignment_method=alignment_method,
        # An intent that implements a stage changes the line, whatever its name.
        is_self_modification=is_self_modification(intent.service_name) or intent.implements is not None,
        author=context.author,
        changed_files=list(context.changed_files),
    )
    if alignment_score is not None:
        variables["alignment_score"] = float(alignment_score)
    return variables
