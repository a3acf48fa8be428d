"""`intentops stages`: what serves each stage, since when, its lineage and error rate (the state database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import output
from bot.cli.main import build_app
from pipeline.adoption.health import StageHealth
from pipeline.adoption.history import StageHistory
from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.factory.contracts import Stage
from pipeline.state import Database, default_sqlite_url

REPO = "acme/intents"


def test_stages_shows_the_adopted_service_its_lineage_and_its_live_errors(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()
    v2 = StageFile().with_route(StageRoute(Stage.SPEC_BUILDER, "spec-builder-v2", version="abc123", shadow=4))
    StageHistory(database).record_change(REPO, StageFile(), v2, commit_sha="c" * 40)
    health = StageHealth(database)
    health.record(repo=REPO, stage="spec-builder", service="spec-builder-v2", ok=True)
    health.record(repo=REPO, stage="spec-builder", service="spec-builder-v2", ok=False, failure="timeout")
    database.dispose()

    env = {"INTENTOPS_DATA_DIR": str(tmp_path), "INTENTOPS_REPO": REPO, "DATABASE_URL": ""}
    result = CliRunner().invoke(build_app(), ["stages", "--format", "json"], env=env)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_stage = {s["stage"]: s for s in report["stages"]}
    builder = by_stage["spec-builder"]
    assert (builder["serving"], builder["version"], builder["shadow_report"]) == (
        "spec-builder-v2",
        "abc123",
        4,
    )
    assert (builder["calls_24h"], builder["failures_24h"], builder["error_rate_24h"]) == (2, 1, 0.5)
    assert [step["service"] for step in builder["lineage"]] == ["spec-builder-v2"]
    assert by_stage["spec-verifier"]["serving"] == "builtin" and by_stage["spec-verifier"]["lineage"] == []
    assert builder["signed_off"] is False, "its change was never signed off: the built-in serves"

    with pytest.MonkeyPatch.context() as patch:  # the CLI's console takes its width once: a wide one here
        patch.setattr(output.out, "width", 200)
        text = CliRunner().invoke(build_app(), ["stages"], env=env)
    assert text.exit_code == 0, text.output
    assert "builtin -> spec-builder-v2" in text.stdout and "1/2 (50%)" in text.stdout
    assert "not signed off" in text.stdout

    approved = Database(default_sqlite_url(tmp_path))
    StageHistory(approved).approve(REPO, commit_sha="c" * 40, pr_number=9, approvers=("bob", "carol"))
    approved.dispose()
    again = CliRunner().invoke(build_app(), ["stages", "--format", "json"], env=env)
    assert {s["stage"]: s for s in json.loads(again.stdout)["stages"]}["spec-builder"]["signed_off"] is True
