"""The words of the ledger: an intent's states, the stages of the line, and a stage's outcomes."""

from __future__ import annotations

from enum import StrEnum


class IntentState(StrEnum):
    RECEIVED = "received"
    INVALID = "invalid"
    BLOCKED = "blocked"
    BUILDING = "building"
    NEEDS_HUMAN = "needs_human"
    AWAITING_SIGNOFF = "awaiting_signoff"
    APPROVED = "approved"
    MERGED = "merged"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    DEPLOY_FAILED = "deploy_failed"
    REJECTED = "rejected"
    UNDEPLOYED = "undeployed"
    FAILED = "failed"


class Stage(StrEnum):
    RECEIVED = "received"
    GOVERNED = "governed"
    SPEC = "spec"
    CODE = "code"
    TESTS = "tests"
    PR = "pr"
    SIGNOFF = "signoff"
    MERGED = "merged"
    DEPLOYED = "deployed"
    UNDEPLOYED = "undeployed"


class Outcome(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
