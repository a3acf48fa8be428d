"""A governance policy: `{name, rule, action, reason, approvals?, approvers?}`, and where it was written."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from pipeline.governance.rules import CompiledRule


class PolicyAction(StrEnum):
    AUTO_APPROVE = "auto_approve"
    REQUIRES_APPROVAL = "requires_approval"
    BLOCKED = "blocked"

    @property
    def severity(self) -> int:
        """The most restrictive action wins: blocked > requires_approval > auto_approve."""
        return {"auto_approve": 0, "requires_approval": 1, "blocked": 2}[self.value]


Name = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Login = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Policy(BaseModel):
    """One policy as written. Unknown fields are errors (a misspelt `approvers` must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    rule: StrictStr = Field(description="A CEL expression; the seed's AND / OR / NOT keywords also work.")
    action: PolicyAction
    reason: Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    approvals: StrictInt | None = Field(
        default=None, ge=1, le=10, description="Approving reviews needed (requires_approval only)."
    )
    approvers: tuple[Login, ...] = Field(
        default=(), description="GitHub logins or @org/team names allowed to approve; empty: any maintainer."
    )

    @field_validator("approvers")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("names an approver more than once")
        return value

    @model_validator(mode="after")
    def _approvals_need_review(self) -> Policy:
        if self.action is not PolicyAction.REQUIRES_APPROVAL and (self.approvals or self.approvers):
            raise ValueError("approvals and approvers apply only to requires_approval policies")
        return self

    def required_approvals(self) -> int:
        if self.action is not PolicyAction.REQUIRES_APPROVAL:
            return 0
        return self.approvals or 1


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


@dataclass(frozen=True)
class PolicyProblem:
    """Something wrong with a policy file, at a 1-based line and column (0: the whole file)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{Location(self.file, self.line, self.column)}: {self.message}"

    def to_json(self) -> dict[str, str | int]:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy ready to evaluate: its definition, its compiled rule and where it came from."""

    policy: Policy
    rule: CompiledRule
    location: Location
