"""Builds served by adopted stage services: `line/stages.yaml` read with file and line, the plan that says
who serves each stage and why not, a service that misbehaves falling back to the built-in for that call,
and repeated failures suspending it (real stage services on 127.0.0.1, a real SQLite state database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.adoption.health import StageHealth
from pipeline.adoption.routing import plan_stages
from pipeline.adoption.stagefile import BUILTIN, StageFile, StageFileError, StageRoute, parse_stage_file
from pipeline.factory.conformance import BOOKMARKS
from pipeline.factory.contracts import Stage
from pipeline.intents import Intent
from pipeline.registry import RegistryStore
from pipeline.state import Database
from tests.fixtures.clock import ManualClock
from tests.fixtures.stage_services import STAGE_TOKEN, ScriptedService, scripted_service, stage_service

TOKEN = SecretStr(STAGE_TOKEN)
ADOPTED = b"""\
stages:
  spec-builder:
    service: spec-builder-v2
    contract: "1"
    version: abc123
"""


@pytest.fixture
def database(tmp_path: Path) -> Database:
    made = Database(f"sqlite:///{tmp_path / 'state.db'}")
    made.create_all()
    return made


@pytest.fixture
def scripted() -> Iterator[tuple[str, ScriptedService]]:
    with scripted_service() as served:
        yield served


def bookmarks() -> Intent:
    return BOOKMARKS.intent()


def test_the_stage_file_names_a_service_per_stage_and_round_trips() -> None:
    parsed = parse_stage_file(ADOPTED)
    assert parsed.route(Stage.SPEC_BUILDER) == StageRoute(
        Stage.SPEC_BUILDER, "spec-builder-v2", "1", "abc123"
    )
    assert parsed.route(Stage.SPEC_VERIFIER).service == BUILTIN, (
        "a stage the file does not name runs built in"
    )
    assert parse_stage_file(parsed.to_yaml().encode()) == parsed
    assert parse_stage_file(None) == StageFile()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"stages:\n  spec-writer:\n    service: x\n", "line/stages.yaml:2:3: unknown stage 'spec-writer'"),
        (b"stages:\n  spec-builder:\n    service: x\n    contract: '9'\n", "contract '9' is not one"),
        (b"stages:\n  spec-builder:\n    service: Bad_Name\n", "is not a service name"),
        (b"stages:\n  spec-builder:\n    servce: x\n", "line/stages.yaml:3:5: stages.spec-builder.servce"),
        (b"stages: [\n", "line/stages.yaml:"),
    ],
)
def test_a_stage_file_that_cannot_be_used_says_where(text: bytes, problem: str) -> None:
    with pytest.raises(StageFileError) as refused:
        parse_stage_file(text)
    assert problem in str(refused.value)


def test_the_plan_routes_to_registered_services_and_says_why_not(database: Database) -> None:
    registry = RegistryStore(database)
    health = StageHealth(database)
    routed = StageFile().with_route(StageRoute(Stage.SPEC_BUILDER, "spec-builder-v2"))
    routed = routed.with_route(StageRoute(Stage.SPEC_VERIFIER, "spec-verifier-v2"))
    registry.register(name="spec-builder-v2", version="v1", url="http://127.0.0.1:9")

    _, plan = plan_stages(routed, repo="acme/intents", registry=registry, health=health, token=TOKEN)

    assert plan.services == {Stage.SPEC_BUILDER: "spec-builder-v2"}
    assert "spec-verifier-v2 is not registered" in plan.builtin_because[Stage.SPEC_VERIFIER]


def test_a_service_that_crashes_mid_build_falls_back_for_that_call_and_is_suspended_after_three(
    database: Database, scripted: tuple[str, ScriptedService]
) -> None:
    url, service = scripted
    service.answer("/build", {"detail": "boom"}, status=500)
    registry = RegistryStore(database)
    registry.register(name="spec-builder-v2", version="v1", url=url)
    health = StageHealth(database, limit=3, window=timedelta(minutes=30))
    routed = StageFile().with_route(StageRoute(Stage.SPEC_BUILDER, "spec-builder-v2"))

    for attempt in range(3):
        stages, plan = plan_stages(routed, repo="acme/intents", registry=registry, health=health, token=TOKEN)
        assert plan.services == {Stage.SPEC_BUILDER: "spec-builder-v2"}
        spec = stages.resolve().builder.build(bookmarks(), blueprint="")
        assert spec.service_name == bookmarks().service_name, "the built-in answered"
        assert stages.served.by[Stage.SPEC_BUILDER].startswith("builtin (fell back: spec-builder-v2")
        assert bool(stages.served.suspended) is (attempt == 2), "suspended on the third failure only"

    _, plan = plan_stages(routed, repo="acme/intents", registry=registry, health=health, token=TOKEN)
    assert plan.services == {} and "suspended: 3 failed calls" in plan.builtin_because[Stage.SPEC_BUILDER]
    assert health.error_rate("acme/intents", "spec-builder", "spec-builder-v2").failures == 3


def test_a_suspension_is_reported_by_exactly_one_build(database: Database) -> None:
    """Builds running at once each see the suspension; one claims its issue, and the others skip it."""
    health = StageHealth(database, limit=1)
    health.record(repo="r/r", stage="spec-builder", service="s", ok=False, failure="timeout")
    assert [(u.stage, u.service) for u in health.unreported("r/r")] == [("spec-builder", "s")]
    claims = [health.claim_report("r/r", "spec-builder", "s") for _ in range(3)]
    assert claims == [True, False, False]
    assert health.unreported("r/r") == []
    health.note_issue("r/r", "spec-builder", "s", 7)
    suspension = health.suspension("r/r", "spec-builder", "s")
    assert suspension is not None and suspension.issue_number == 7


def test_failures_outside_the_window_do_not_add_up(database: Database) -> None:
    clock = ManualClock(datetime(2027, 1, 15, 8, tzinfo=UTC))
    health = StageHealth(database, limit=2, window=timedelta(minutes=10), clock=clock)
    first = health.record(repo="r/r", stage="spec-builder", service="s", ok=False, failure="timeout")
    clock.advance(minutes=11)
    second = health.record(repo="r/r", stage="spec-builder", service="s", ok=False, failure="timeout")
    assert (first.tripped, second.tripped, second.failures_in_window) == (False, False, 1)


def test_a_healthy_service_serves_and_says_so(database: Database) -> None:
    registry = RegistryStore(database)
    health = StageHealth(database)
    with stage_service(Stage.SPEC_BUILDER) as url:
        registry.register(name="spec-builder-v2", version="v1", url=url)
        routed = StageFile().with_route(StageRoute(Stage.SPEC_BUILDER, "spec-builder-v2"))
        stages, _ = plan_stages(routed, repo="acme/intents", registry=registry, health=health, token=TOKEN)
        stages.resolve().builder.build(bookmarks(), blueprint="")
    assert stages.served.by[Stage.SPEC_BUILDER] == "spec-builder-v2"
    assert stages.served.by[Stage.SPEC_VERIFIER] == BUILTIN
    assert health.error_rate("acme/intents", "spec-builder", "spec-builder-v2").calls == 1


def test_a_route_whose_change_was_not_signed_off_runs_built_in(database: Database) -> None:
    registry = RegistryStore(database)
    registry.register(name="spec-builder-v2", version="v1", url="http://127.0.0.1:9")
    routed = StageFile().with_route(StageRoute(Stage.SPEC_BUILDER, "spec-builder-v2"))

    _, plan = plan_stages(
        routed,
        repo="acme/intents",
        registry=registry,
        health=StageHealth(database),
        token=TOKEN,
        approved=lambda _stage, _route: False,
    )

    assert plan.services == {}
    assert "was not merged with a complete sign-off" in plan.builtin_because[Stage.SPEC_BUILDER]
