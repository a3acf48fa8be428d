"""Shadow reports kept in the state database (SQLite and PostgreSQL) and read back typed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.ledger.tables import ShadowReportRow
from pipeline.shadow import Referees, ShadowCase, ShadowReport, ShadowStore, UnknownReport, Verdict, evaluate
from pipeline.state import Database
from tests.fixtures.clock import ManualClock
from tests.fixtures.database import on_every_engine
from tests.shadow.candidates import ConstantVerifier, SameVerifier

pytest_generate_tests = on_every_engine


def _report(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...], candidate: object, name: str
) -> ShadowReport:
    return evaluate(
        Stage.SPEC_VERIFIER,
        incumbent=stages.verifier,
        candidate=candidate,
        cases=history[:3],
        referees=referees,
        candidate_name=name,
    )


def test_a_saved_report_reads_back_as_it_was(
    database: Database,
    clock: ManualClock,
    stages: FactoryStages,
    referees: Referees,
    history: tuple[ShadowCase, ...],
) -> None:
    store = ShadowStore(database, clock=clock)
    report = _report(stages, referees, history, ConstantVerifier(100), "spec-verifier-v2")

    saved = store.save(report, repo="acme/intents", candidate_version="abc123")

    again = store.get(saved.id)
    assert again.report == report
    assert (again.stage, again.verdict, again.candidate) == (
        Stage.SPEC_VERIFIER,
        Verdict.WORSE,
        "spec-verifier-v2",
    )
    assert (again.repo, again.candidate_version, again.created_at) == ("acme/intents", "abc123", clock.now)


def test_the_latest_report_per_stage_repository_and_candidate(
    database: Database,
    clock: ManualClock,
    stages: FactoryStages,
    referees: Referees,
    history: tuple[ShadowCase, ...],
) -> None:
    store = ShadowStore(database, clock=clock)
    worse = _report(stages, referees, history, ConstantVerifier(100), "spec-verifier-v2")
    same = _report(stages, referees, history, SameVerifier(), "spec-verifier-v3")
    first = store.save(worse, repo="acme/intents")
    clock.advance(timedelta(minutes=5).total_seconds())
    second = store.save(same, repo="acme/intents")
    clock.advance(60)
    store.save(same, repo="acme/other")

    assert store.latest(Stage.SPEC_VERIFIER, repo="acme/intents") == second
    assert store.latest(Stage.SPEC_VERIFIER, candidate="spec-verifier-v2") == first
    assert store.latest(Stage.SPEC_BUILDER) is None
    assert [r.repo for r in store.history(stage=Stage.SPEC_VERIFIER)] == [
        "acme/other",
        "acme/intents",
        "acme/intents",
    ]
    assert len(store.history(limit=1)) == 1


def test_a_stored_report_that_cannot_be_read_says_so(
    database: Database, stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    store = ShadowStore(database)
    saved = store.save(_report(stages, referees, history, SameVerifier(), "v2"))
    with database.session() as session:
        session.execute(update(ShadowReportRow).values(report={"version": 99}))

    again = store.get(saved.id)

    assert again.report is None and again.verdict is Verdict.NO_BETTER
    assert again.unreadable.startswith(f"report {saved.id} is unreadable (version:")


def test_an_unknown_report_is_an_error(database: Database) -> None:
    with pytest.raises(UnknownReport, match="no shadow report 42"):
        ShadowStore(database).get(42)
