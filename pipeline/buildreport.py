"""A build's report as the ledger keeps it: a versioned, typed value, written with `to_json` and read back
with `from_json`, so nobody downstream reads it as a dict (the PR body, the dashboard, the deployer's
provenance, the sign-off).

`BuildOutcome.report()` (pipeline.assembly) makes one from a build. Version 1 is what the line has written
since reports were kept; readers of a newer version ignore the fields they do not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.sandbox.model import Verdict

REPORT_VERSION: Literal[1] = 1


class BuildVerdict(StrEnum):
    READY = "ready"
    SPEC_BELOW_GATE = "spec_below_gate"
    TESTS_FAILED = "tests_failed"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FindingReport(_Record):
    section: str
    severity: str
    message: str
    code: str = ""
    hard: bool = False
    subject: str = ""


class VerificationReport(_Record):
    score: float
    rubric_version: str = ""
    hard_checks_passed: bool = True
    section_scores: dict[str, float] = Field(default_factory=dict)
    findings: tuple[FindingReport, ...] = ()


class RoundReport(_Record):
    round: int
    score: float
    hard_checks_passed: bool = True
    findings: int = 0
    repairs: tuple[str, ...] = ()


class SpecReport(_Record):
    service_name: str = ""
    gate: int
    reached_gate: bool
    score: float
    rounds: tuple[RoundReport, ...] = ()
    verification: VerificationReport


class FailureReport(_Record):
    test: str
    message: str = ""


class TestsReport(_Record):
    __test__ = False  # not a test case, whatever its name

    ok: bool
    verdict: Verdict
    passed: int
    failed: int
    errors: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    isolation: str = ""
    user: str = ""
    timed_out: bool = False
    failures: tuple[FailureReport, ...] = ()


class BuildReport(_Record):
    """What one build of an intent produced: its SPEC's score, its tests, the files it committed."""

    report_version: Literal[1] = REPORT_VERSION
    service_name: str
    verdict: BuildVerdict
    spec: SpecReport
    tests: TestsReport | None = None
    files: tuple[str, ...] = ()
    model_rounds: tuple[dict[str, Any], ...] = ()
    """With a model: its write and repair rounds (as the model path reports them)."""
    version: str | None = None
    """The generated service's version: the hash of the SPEC it was generated from."""

    @property
    def tests_passed(self) -> bool:
        return self.tests is not None and self.tests.ok

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BuildReport:
        """Read a report the ledger kept (raises pydantic's ValidationError on one that is not)."""
        return cls.model_validate(data)
