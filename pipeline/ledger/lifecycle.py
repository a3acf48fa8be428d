"""An intent's lifecycle as one pure table: (state, event) -> the state it leads to, and why.

Handlers say what happened (`Event`); `Ledger.apply` looks the transition up here and records it, so every
state an intent can be in, and every way into it, is on this page. The dashboard's stage strip reads the
order of stages (`STAGES`) from here too.

Most events may happen in any state (a new push, a retry, a rebuild, a redelivered event); the table names
the states an event may NOT leave, where the line refuses it (a merged intent is not rejected by a closing
event that arrives late). A refused event changes nothing and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipeline.ledger.states import IntentState, Stage


class Event(StrEnum):
    RECEIVED = "received"
    """The intent file has new content (or `/intentops retry` queued its work again)."""
    INVALID = "invalid"
    BLOCKED = "blocked"
    HELD = "held"
    """Governed, but `auto_build: false`: a person starts the build."""
    BUILD_STARTED = "build_started"
    BUILT = "built"
    """The factory finished: the SPEC reached the gate and the code was generated and tested."""
    SPEC_BELOW_GATE = "spec_below_gate"
    PR_UPDATED = "pr_updated"
    """The line opened or updated the intent's pull request; its checks follow."""
    RETEST_PENDING = "retest_pending"
    """The pull request's head is a commit the line did not make and has not tested yet."""
    GOVERNING_FILES = "governing_files"
    """The intent's pull request also changes what governs the line."""
    TESTS_FAILED = "tests_failed"
    SIGNOFF_PENDING = "signoff_pending"
    SIGNED_OFF = "signed_off"
    MERGE_FAILED = "merge_failed"
    """Signed off, but the bot's merge was refused (a conflict, a branch protection): it stays approved."""
    MERGED_UNDEPLOYABLE = "merged_undeployable"
    """Merged, but the merge may not deploy (no complete sign-off, not tested as merged)."""
    DEPLOY_STARTED = "deploy_started"
    DEPLOYED = "deployed"
    DEPLOY_FAILED = "deploy_failed"
    CLOSED = "closed"
    """Its pull request was closed without merging."""
    DELETED = "deleted"
    """Its file was deleted from the default branch: the service is undeployed."""
    GAVE_UP = "gave_up"
    """A job carrying it forward is dead (after its attempts): `/intentops retry` queues it again."""


@dataclass(frozen=True)
class Rule:
    to: IntentState
    reason: str
    """Why the intent is in `to`: what it waits for, unless the event says more."""
    not_from: frozenset[IntentState] = frozenset()


@dataclass(frozen=True)
class Transition:
    """The outcome of an event: the state it leads to, or the state it leaves alone and why."""

    event: Event
    before: IntentState
    to: IntentState
    reason: str
    refused: bool = False


PAST_MERGE = frozenset(
    {IntentState.MERGED, IntentState.DEPLOYING, IntentState.DEPLOYED, IntentState.DEPLOY_FAILED}
)
"""States after the merge: the build of that content has nothing left to do (unless asked to rebuild)."""
SIGNOFF_STATES = (IntentState.AWAITING_SIGNOFF, IntentState.NEEDS_HUMAN)
"""States in which a person's approval is what the intent waits for (or may help)."""

TABLE: dict[Event, Rule] = {
    Event.RECEIVED: Rule(IntentState.RECEIVED, "the line to govern and build it"),
    Event.INVALID: Rule(IntentState.INVALID, "a fix of the intent file"),
    Event.BLOCKED: Rule(IntentState.BLOCKED, "a change of the intent (or of the policies)"),
    Event.HELD: Rule(IntentState.NEEDS_HUMAN, "auto_build is false"),
    Event.BUILD_STARTED: Rule(IntentState.BUILDING, "the factory"),
    Event.BUILT: Rule(IntentState.BUILDING, "the pull request"),
    Event.SPEC_BELOW_GATE: Rule(IntentState.NEEDS_HUMAN, "a SPEC that reaches the gate"),
    Event.PR_UPDATED: Rule(IntentState.BUILDING, "checks"),
    Event.RETEST_PENDING: Rule(IntentState.BUILDING, "the line to test a commit it did not make"),
    Event.GOVERNING_FILES: Rule(IntentState.NEEDS_HUMAN, "policy changes in a pull request of their own"),
    Event.TESTS_FAILED: Rule(IntentState.NEEDS_HUMAN, "its tests to pass"),
    Event.SIGNOFF_PENDING: Rule(IntentState.AWAITING_SIGNOFF, "sign-off"),
    Event.SIGNED_OFF: Rule(IntentState.APPROVED, "a merge of its pull request"),
    Event.MERGE_FAILED: Rule(IntentState.APPROVED, "a merge the forge accepts"),
    Event.MERGED_UNDEPLOYABLE: Rule(IntentState.MERGED, "sign-off and tests of what was merged"),
    Event.DEPLOY_STARTED: Rule(IntentState.DEPLOYING, "the deploy"),
    Event.DEPLOYED: Rule(IntentState.DEPLOYED, ""),
    Event.DEPLOY_FAILED: Rule(IntentState.DEPLOY_FAILED, "a fix and a new merge"),
    Event.CLOSED: Rule(
        IntentState.REJECTED,
        "",
        not_from=frozenset({IntentState.MERGED, IntentState.DEPLOYING, IntentState.DEPLOYED}),
    ),
    Event.DELETED: Rule(IntentState.UNDEPLOYED, ""),
    Event.GAVE_UP: Rule(IntentState.FAILED, "/intentops retry"),
}

REFUSED = "{event} does not apply to an intent that is {state}"


def transition(state: IntentState, event: Event, *, reason: str = "") -> Transition:
    """Where `event` takes an intent in `state`; `reason`: what it waits for, when the event knows better
    than the table's default."""
    rule = TABLE[event]
    if state in rule.not_from:
        return Transition(event, state, state, REFUSED.format(event=event.value, state=state.value), True)
    return Transition(event, state, rule.to, reason or rule.reason)


STAGES: tuple[Stage, ...] = (
    Stage.RECEIVED,
    Stage.GOVERNED,
    Stage.SPEC,
    Stage.CODE,
    Stage.TESTS,
    Stage.PR,
    Stage.SIGNOFF,
    Stage.MERGED,
    Stage.DEPLOYED,
)
"""The stage strip, in the order an intent passes it (the dashboard's queue and intent pages)."""
