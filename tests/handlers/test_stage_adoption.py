"""Adopting a stage service takes two people: a merge of `line/stages.yaml` with one approval (or none, by a
writer who can merge) is recorded but never routed to; with a complete sign-off it is (the strict in-memory
repository, a real ledger)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.handlers.stages import record_stage_merge
from bot.line import Line
from bot.vcs.models import ReviewState
from pipeline.adoption.history import StageHistory
from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.factory.contracts import Stage
from pipeline.ledger import GovernedPull
from pipeline.policychange import change_decision
from tests.fixtures.fake_repo import FakeRepo, handler_line

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
