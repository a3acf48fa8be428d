"""`intentops demo --self-improve`: the line improves itself, offline, from a commit to an adopted stage.

alice commits `spec-builder-v2` (a new version of the line's spec-builder whose templates reword the vague
words that keep the built-in's SPECs below the gate); bob and carol approve it (a self-modification: two
people); the line builds it as a stage service, deploys it and proves it beside the built-in on the bundled
history; bob and carol approve the adoption pull request and bob merges it; alice commits a following
intent, and its SPEC is built by spec-builder-v2.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from rich.markup import escape

from bot.cli.output import fail, out
from bot.cli.stack import AUTHOR, REPO, REVIEWER, SECOND_REVIEWER, Stack
from bot.handlers.stages import ADOPT_BRANCH
from bot.vcs.client import RepoClient
from bot.vcs.github import GithubRepoClient, token_connection
from pipeline.adoption.history import StageHistory
from pipeline.adoption.stagefile import StageRoute, parse_stage_file
from pipeline.factory.contracts import Stage
from pipeline.ledger import IntentRecord, IntentState
from pipeline.ledger import Stage as LedgerStage
from pipeline.resources import resource_path
from pipeline.shadow import ShadowStore, Verdict

STAGE_INTENT = resource_path("examples/intents/spec-builder-v2.yaml")
STAGE_PATH = "intents/spec-builder-v2.yaml"
FOLLOWING_PATH = "intents/share-links.yaml"
FOLLOWING_INTENT = """\
# Written the way people write: "quick", "easy", "fast". The built-in spec-builder leaves such words in
# the SPEC's scope, below the gate; spec-builder-v2 rewords them.
service_name: share-links
purpose: A quick, easy place where the team keeps the links it shares, so knowledge is found fast.
tier: 2
resources:
  - name: link
    fields: {url: url, title: string}
    required: [url]
"""
ADOPTED = "spec-builder-v2"
WAIT_S = 300.0
POLL_S = 0.3
T = TypeVar("T")

Committer = Callable[[Stack, str, str], None]
Watch = Callable[[str, tuple[IntentState, ...]], IntentRecord]


def drive(stack: Stack, *, commit: Committer, watch: Watch) -> bool:
    """Run the whole loop; True when the following intent's SPEC was built by spec-builder-v2."""
    bob, carol = _client(stack, REVIEWER), _client(stack, SECOND_REVIEWER)
    out.print(f"{AUTHOR} commits {STAGE_PATH}: a new version of the line's own spec-builder")
    commit(stack, STAGE_PATH, STAGE_INTENT.read_text(encoding="utf-8"))
    record = watch(STAGE_PATH, (IntentState.AWAITING_SIGNOFF,))
    assert record.pr_number is not None
    out.print(f"  pull request: {record.pr_url} ({record.waiting_for})")
    for reviewer, client in ((REVIEWER, bob), (SECOND_REVIEWER, carol)):
        out.print(f"  {reviewer} approves it")
        client.submit_review(record.pr_number, commit_id=record.head_sha, event="APPROVE")
    watch(STAGE_PATH, (IntentState.DEPLOYED,))
    out.print("  deployed and registered: the line proves it on recent work beside the built-in spec-builder")

    stored = _until(
        lambda: ShadowStore(stack.bot.line.ledger.database).latest(Stage.SPEC_BUILDER), "a report"
    )
    report = stored.report
    if report is None:
        fail("the shadow report cannot be read")
    out.print(
        f"  shadow evaluation #{stored.id} on {len(report.cases)} recent intents: {report.candidate} is "
        f"{report.verdict.value} than {report.incumbent} ({escape(report.source)})"
    )
    for result in report.metrics:
        figures = f"{_figure(result.incumbent)} -> {_figure(result.candidate)} {result.metric.unit}"
        out.print(f"    {result.metric.name:<14} {figures:<22} {result.comparison.value}")
    if report.verdict is not Verdict.BETTER:
        out.print("  not better, so never proposed: the line keeps its built-in spec-builder")
        return False

    pull = _until(lambda: bob.find_open_pull(ADOPT_BRANCH.format(stage=Stage.SPEC_BUILDER.value)), "the PR")
    out.print(f"  the line opens {pull.html_url}: line/stages.yaml routes spec-builder to spec-builder-v2")
    for reviewer, client in ((REVIEWER, bob), (SECOND_REVIEWER, carol)):
        out.print(f"  {reviewer} approves the adoption")
        client.submit_review(pull.number, commit_id=pull.head_sha, event="APPROVE")
    out.print(f"  {REVIEWER} merges it (a person merges what changes the line)")
    _until(lambda: _merged(bob, pull.number, pull.head_sha), "a merge the forge accepts")
    route = _adopted_route(bob)
    history = StageHistory(stack.bot.line.ledger.database)
    _until(lambda: history.approved(REPO, Stage.SPEC_BUILDER, route) or None, "the adoption to be recorded")
    out.print("  adopted: every later build's SPEC comes from spec-builder-v2")

    out.print(f"{AUTHOR} commits {FOLLOWING_PATH}")
    commit(stack, FOLLOWING_PATH, FOLLOWING_INTENT)
    following = watch(FOLLOWING_PATH, (IntentState.AWAITING_SIGNOFF, IntentState.NEEDS_HUMAN))
    served = served_by(stack, following)
    out.print(f"  its SPEC was built by: {escape(served or 'unknown')}")
    return served == ADOPTED


def _client(stack: Stack, login: str) -> RepoClient:
    connection = token_connection(stack.credentials.tokens[login], stack.forge.api_url)
    return GithubRepoClient(connection, REPO)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _merged(client: RepoClient, number: int, head: str) -> bool | None:
    """Try the merge; None while the branch protection still holds it (governance catching up)."""
    return True if client.merge_pull(number, sha=head, message="Adopt spec-builder-v2").merged else None


def _adopted_route(client: RepoClient) -> StageRoute:
    stage_file = parse_stage_file(client.read_file("line/stages.yaml", client.default_branch()))
    return stage_file.route(Stage.SPEC_BUILDER)


def served_by(stack: Stack, record: IntentRecord) -> str:
    """Who built the intent's last SPEC, as its spec event says (`builtin`, or a stage service's name)."""
    events = [e for e in stack.bot.line.ledger.history(record.id) if e.stage is LedgerStage.SPEC and e.detail]
    served = events[-1].detail.get("served_by", {}) if events and events[-1].detail else {}
    return str(served.get(Stage.SPEC_BUILDER.value, ""))


def _until(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(POLL_S)
    fail(f"no progress within {WAIT_S:.0f}s (waiting for {what})")
