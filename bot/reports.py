"""What the bot writes on PRs, issues and statuses: Markdown from `templates/bot/`, short lines here."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment
from pydantic import ValidationError

from bot.usertext import markdown_environment
from pipeline.governance.decision import Decision
from pipeline.governance.explain import Explanation, explain
from pipeline.governance.variables import PushContext, rule_variables
from pipeline.intents import InvalidIntent, load_intent
from pipeline.llm.usage import UsageLedger

# Commit status descriptions (GitHub caps them at 140 characters).
GOVERNANCE_AUTO = "auto-approved by policy"
GOVERNANCE_WAITING = "waiting for sign-off: {waiting}"
GOVERNANCE_SIGNED = "signed off by {who}"
GOVERNANCE_BLOCKED = "blocked: {summary}"
INVALID_STATUS = "invalid intent: {problem}"
SPEC_PASSED = "SPEC {score}/100 (gate {gate})"
SPEC_BELOW = "SPEC {score}/100 is below the gate {gate}"
TESTS_PASSED = "{passed} tests passed"
TESTS_FAILED = "tests {verdict}: {failed} failed, {errors} errors, {skipped} skipped"
DEPLOY_STARTED = "deploying {version}"
DEPLOY_DONE = "deployed at {url}"
DEPLOY_UNSIGNED = "it was merged without a complete sign-off: it waits for {waiting}"
DEPLOY_BLOCKED = "governance blocked this intent: {summary}"
DEPLOY_NO_DECISION = "it has no governance decision"
DEPLOY_UNTESTED = "its head {head} was not tested green by the line{why}"
DEPLOY_NOT_AS_TESTED = (
    "the merge's {folder} is not what the line tested at {head} (the default branch changed it too)"
)
TESTS_RUNNING = "testing {head}: a commit the line did not make"
SPEC_CHECKING = "verifying the SPEC at {head}"
WAITING_RETEST = "the line to test {head}, a commit it did not make"
GOVERNING_FILES = (
    "this pull request changes {files}: what governs the line changes in a pull request of its own"
)
NOT_APPLICABLE = "no service in this pull request"
POLICY_CHANGE_WAITING = "policy change, waiting for sign-off: {waiting}"
POLICY_CHANGE_SIGNED = "policy change signed off by {who}"
POLICY_CHANGE_INVALID = "the changed policies do not load: {problem}"
POLICY_CHANGE_BLOCKED = "policy change blocked: {summary}"
SHADOW_PROPOSED = "The line proposes to adopt it: #{number} changes `line/stages.yaml` (two approvals)."
SHADOW_NOT_PROPOSED = "It is not proposed for adoption: a candidate that is not better never is."
SHADOW_ADOPTED_ALREADY = "The default branch routes the stage to this version already."
SHADOW_NOT_SERVING = "`{service}` is not registered at {version}: the shadow evaluation waits for its deploy."
ADOPTION_NOTE = (
    "Merging this pull request (two approvals) routes every later build's `{stage}` to `{service}` at "
    "`{version}`; a call it fails falls back to the built-in. Reverting the merge is a rollback."
)
ADOPT_TITLE = "intentops: adopt {service} as the line's {stage}"
ADOPT_COMMIT = "Adopt {service} as the {stage} stage (shadow evaluation: better than the incumbent)"
STAGES_ADOPTED = "Signed off by {who}: from now on the line's builds use the stages this change names."
STAGES_NOT_GOVERNED = "the change was not governed at its merged head"
REVERT_TITLE = "intentops: route the line's {stage} back to the built-in ({service} keeps failing)"
REVERT_COMMIT = "Route the {stage} stage back to the built-in: {service} was suspended after failing"
STAGE_SUSPENDED_TITLE = "intentops: the {stage} stage is back on the built-in ({service} keeps failing)"

WAITING_RETRY = "a worker to retry its failed work"
WAITING_TESTS = "its tests to pass (see the failing tests on the pull request)"
WAITING_MERGE = "a merge of its pull request"
WAITING_SIGNOFF_RETRY = "sign-off, then /intentops retry ({why})"
PR_TITLE = "intentops: build {service}"
BUILD_COMMIT = "Build {service} from {path} ({content})"
ISSUE_TITLE = "intentops: {path} needs attention"
ISSUE_PR_TITLE = "intent: add {service} (from #{issue})"
ISSUE_PR_BODY = "Adds `{path}` as asked in #{issue}.\n\nMerging it lets the line build the service."
ISSUE_LINKED = "Opened #{number} adding `{path}`. Merge it to start the build."
ISSUE_PR_STATUS = "a valid intent; it is governed once merged"
ISSUE_INVALID = "The form does not make a valid intent:\n\n{problems}"
COMMAND_DENIED = "@{login}: `/intentops {command}` needs write permission on this repository."
COMMAND_UNKNOWN = "@{login}: unknown command `/intentops {command}`. Known: {known}."
APPROVE_NOT_COUNTED = "@{login}: your approval does not count: {login} {reason}."
NO_PULL_YET = "@{login}: {path} has no pull request yet; there is nothing to approve."
RETRY_QUEUED = "Retrying: the intent's failed work is queued again."
DEPLOY_QUEUED = "Deploying `{service}` again from `{version}`, if its sign-off is complete now."
SIGNED_AFTER_MERGE = "@{login}: your sign-off counts. `/intentops retry` deploys `{service}`."
STILL_UNSIGNED_AFTER_MERGE = "@{login}: your sign-off counts; `{service}` still waits for {waiting}."
UNAPPROVED = "@{login}: your `/intentops approve` is withdrawn."
NOTHING_TO_UNAPPROVE = "@{login}: you have no `/intentops approve` here to withdraw."
NOTHING_TO_RETRY = (
    "Nothing to retry: no work for this intent has failed for good. `/intentops rebuild` builds again."
)
NOTHING_TO_REBUILD = "Nothing to rebuild: `{path}` is not on the default branch any more."
REBUILD_QUEUED = "Rebuilding `{service}` from the intent on the default branch."
UNDEPLOYED = "`{service}` was undeployed: its intent was deleted from the default branch."
INVALID_TITLE = "Invalid intent"
ISSUE_FIXED = "Fixed: `{path}` has its pull request now, #{number}; the line reports there from now on."
ISSUE_REMOVED = "Closed: `{path}` was deleted from the default branch."


def render(template: str, **values: Any) -> str:
    """`templates/bot/<template>.md.j2` with `values`; every value is quoted as inert text (bot.usertext).
    Templates that show a decision in numbers take `variables` (see `rule_values`) when the caller has the
    intent; without them, the numbers the decision holds itself (its alignment score)."""
    return _environment().get_template(f"{template}.md.j2").render(**values).strip() + "\n"


@functools.cache
def _environment() -> Environment:
    environment = markdown_environment("bot")
    environment.globals["in_numbers"] = in_numbers
    return environment


def in_numbers(
    decision: Mapping[str, Any] | Decision | None, variables: Mapping[str, Any] | None = None
) -> Explanation | None:
    """The decision explained in numbers (`pipeline.governance.explain`); None when there is none to read."""
    if decision is None:
        return None
    try:
        typed = decision if isinstance(decision, Decision) else Decision.from_json(decision)
    except ValidationError:
        return None
    return explain(typed, variables=variables)


def rule_values(data: bytes | None, *, source: str, author: str = "") -> dict[str, Any] | None:
    """What the policy rules saw of an intent file (its fields, the computed values but the alignment, which
    the decision holds); None when the file is gone or no longer a valid intent."""
    if data is None:
        return None
    try:
        intent = load_intent(data, source=source)
    except InvalidIntent:
        return None
    values = rule_variables(intent, PushContext(author=author), alignment_score=None, alignment_method="")
    values.pop("changed_files", None)  # what the push changed is not in the file: unknown, not empty
    return values


def short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cost_line(usd: float | None) -> str:
    """`None`: no model is configured; otherwise the intent's model spend so far."""
    if usd is None:
        return "offline (no model calls)"
    return f"${usd:.2f} of model calls"


def intent_cost(offline: bool, usage: UsageLedger | None, budget_key: str) -> str:
    if offline or usage is None:
        return cost_line(None)
    return cost_line(usage.spend_for_key(budget_key))
