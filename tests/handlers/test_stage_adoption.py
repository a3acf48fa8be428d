"""Adopting a stage service takes two people: a merge of `line/stages.yaml` with one approval (or none, by a
writer who can merge) is recorded but never routed to; with a complete sign-off it is (the strict in-memory
repository, a real ledger)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.handlers.stages import record_stage_merge, shadow_stage, start_shadow
from bot.line import Line
from bot.queue import JobQueue
from bot.routing import BotContext
from bot.settings import Settings
from bot.vcs.models import ReviewState
from pipeline.adoption.history import StageHistory
from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.factory.contracts import Stage
from pipeline.ledger import GovernedPull
from pipeline.policychange import change_decision
from pipeline.shadow import ShadowStore, Verdict
from tests.fixtures.fake_repo import FakeRepo, handler_line
from tests.fixtures.stage_services import STAGE_TOKEN, stage_service

REPO = "acme/intents"
HEAD, MERGE = "e" * 40, "f" * 40
V2 = StageRoute(Stage.SPEC_BUILDER, "spec-builder-v2", version="abc123", shadow=1)


@pytest.fixture
def repo() -> FakeRepo:
    return FakeRepo(REPO, permissions={"bob": "write", "carol": "write", "alice": "write"})


@pytest.fixture
def line(tmp_path: Path, repo: FakeRepo) -> Line:
    return handler_line(tmp_path, repo)


def merged_adoption(line: Line, repo: FakeRepo, *approvers: str) -> int:
    """An adoption PR by the bot, governed, reviewed by `approvers`, then merged as MERGE."""
    pull = repo.open_pull(head="intentops/adopt-spec-builder", head_sha=HEAD, files=["line/stages.yaml"])
    decision = change_decision(None, files=["line/stages.yaml"], author="intentops-bot", floor=None)
    line.checks.save_governed_pull(
        GovernedPull(REPO, pull.number, HEAD, "intentops-bot", ("line/stages.yaml",), decision, None)
    )
    for login in approvers:
        repo.review(pull.number, login, ReviewState.APPROVED, HEAD)
    StageHistory(line.ledger.database).record_change(
        REPO, StageFile(), StageFile().with_route(V2), commit_sha=MERGE
    )
    record_stage_merge(line, repo, pull.number, MERGE)
    return pull.number


def test_one_approval_leaves_the_adoption_without_effect(line: Line, repo: FakeRepo) -> None:
    number = merged_adoption(line, repo, "bob")

    assert not StageHistory(line.ledger.database).approved(REPO, Stage.SPEC_BUILDER, V2)
    (comment,) = repo.comments[number]
    assert "without a complete sign-off" in comment and "1 more approval" in comment


def test_two_approvals_make_the_adoption_take_effect(line: Line, repo: FakeRepo) -> None:
    number = merged_adoption(line, repo, "bob", "carol")

    assert StageHistory(line.ledger.database).approved(REPO, Stage.SPEC_BUILDER, V2)
    assert "Signed off by bob, carol" in repo.comments[number][0]


def test_a_candidate_no_better_than_the_incumbent_is_never_proposed(line: Line, repo: FakeRepo) -> None:
    """The shadow evaluation of a deployed stage service (here the built-in stage served over HTTP: by
    construction no better) keeps its report, tells the pull request, and proposes nothing."""
    intent = (
        b"service_name: spec-builder-v2\npurpose: Build SPECs the way the built-in does.\n"
        b"implements: spec-builder@1\n"
    )
    repo.files[MERGE] = {"intents/spec-builder-v2.yaml": intent}
    repo.files["main"] = {}
    pull = repo.open_pull(head="intentops/spec-builder-v2", head_sha=HEAD)
    line.stage_token = SecretStr(STAGE_TOKEN)
    with stage_service(Stage.SPEC_BUILDER) as url:
        line.registry.register(name="spec-builder-v2", version=MERGE, url=url)
        context = BotContext(
            Settings(INTENTOPS_DATA_DIR=str(line.workdir)),
            line.ledger.database,
            JobQueue(line.ledger.database),
            line,
        )  # type: ignore[call-arg]
        start_shadow(context, repo=REPO, path="intents/spec-builder-v2.yaml", sha=MERGE, number=pull.number)
        job = context.queue.claim("test")
        assert job is not None
        shadow_stage(job, context)

    (comment,) = repo.comments[pull.number]
    assert "Shadow evaluation #1" in comment and "not proposed for adoption" in comment
    stored = ShadowStore(line.ledger.database).latest(Stage.SPEC_BUILDER, repo=REPO)
    assert stored is not None and stored.report is not None
    assert stored.report.verdict is not Verdict.BETTER
    assert [p for p in repo.pulls.values() if p.head_ref.startswith("intentops/adopt-")] == []
