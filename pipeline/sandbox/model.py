"""What a sandboxed test run reports: counts, duration, failures, and which isolation applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Isolation(StrEnum):
    NETWORK_NAMESPACE = "network-namespace"
    """A subprocess in its own network namespace (only a loopback of its own), with resource limits."""
    DOCKER = "docker"
    """A container with network_mode none, a read-only root filesystem and limits."""
    NONE = "none"
    """A subprocess with resource limits only: no namespace could be created here."""


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_TESTS = "no-tests"
    SKIPPED_TESTS = "skipped-tests"
    TIMED_OUT = "timed-out"
    ERROR = "error"


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 120.0
    memory_mb: int = 1024
    """Address-space limit of the test process (RLIMIT_AS)."""
    max_processes: int = 256
    max_file_mb: int = 64


@dataclass(frozen=True)
class TestFailure:
    test: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"test": self.test, "message": self.message}


@dataclass(frozen=True)
class SandboxResult:
    passed: int
    failed: int
    errors: int
    skipped: int
    duration_s: float
    isolation: Isolation
    user: str
    timed_out: bool = False
    failures: tuple[TestFailure, ...] = field(default_factory=tuple)
    output: str = ""
    """The tail of pytest's output, for people."""

    @property
    def verdict(self) -> Verdict:
        if self.timed_out:
            return Verdict.TIMED_OUT
        if self.failed or self.errors:
            return Verdict.FAILED
        if self.skipped:
            return Verdict.SKIPPED_TESTS
        if self.passed == 0:
            return Verdict.NO_TESTS
        return Verdict.PASSED

    @property
    def ok(self) -> bool:
        """Only a run where tests ran and every one passed counts; zero tests or a skip is a failure."""
        return self.verdict is Verdict.PASSED

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verdict": self.verdict.value,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "duration_s": round(self.duration_s, 3),
            "isolation": self.isolation.value,
            "user": self.user,
            "timed_out": self.timed_out,
            "failures": [f.to_json() for f in self.failures],
        }
