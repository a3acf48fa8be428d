"""A candidate that is a stage service: the line's HTTP client to it, on 127.0.0.1, beside the built-in."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from pipeline.factory.clients import HttpSpecBuilder, HttpSpecVerifier, StageEndpoint
from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import FactoryStages
from pipeline.shadow import Comparison, Referees, ShadowCase, Verdict, evaluate
from tests.fixtures.stage_services import STAGE_TOKEN, scripted_service, stage_service

TOKEN = SecretStr(STAGE_TOKEN)


def test_the_built_in_verifier_served_as_a_stage_service_is_no_better(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    with stage_service(Stage.SPEC_VERIFIER) as url:
        candidate = HttpSpecVerifier(StageEndpoint(url=url, token=TOKEN))
        report = evaluate(
            Stage.SPEC_VERIFIER,
            incumbent=stages.verifier,
            candidate=candidate,
            cases=history,
            referees=referees,
            candidate_name=url,
        )

    assert report.verdict is Verdict.NO_BETTER, report.rule
    assert report.metric("failures").candidate == 0
    assert report.metric("gate_auc").comparison is Comparison.SAME


def test_a_stage_service_that_is_down_or_stalls_is_worse(
    stages: FactoryStages, referees: Referees, history: tuple[ShadowCase, ...]
) -> None:
    with scripted_service() as (url, service):
        service.stall(Stage.SPEC_BUILDER.route)
        stalled = HttpSpecBuilder(StageEndpoint(url=url, token=TOKEN, timeout_s=0.5))
        report = evaluate(
            Stage.SPEC_BUILDER,
            incumbent=stages.builder,
            candidate=stalled,
            cases=history[:2],
            referees=referees,
            candidate_name=url,
        )

    assert report.verdict is Verdict.WORSE
    assert report.metric("failures").candidate == 2
    assert all("timeout: no complete answer within 0.5 s" in failure for failure in report.failures)
    score = report.metric("spec_score")
    assert all(row.candidate is None for row in score.rows) and score.candidate == 0.0


def test_a_stage_service_as_referee_may_not_be_its_own_candidate(
    stages: FactoryStages, history: tuple[ShadowCase, ...]
) -> None:
    routed = Referees(
        builder=stages.builder,
        verifier=HttpSpecVerifier(StageEndpoint(url="http://127.0.0.1:8205", token=TOKEN)),
        optimizer=stages.optimizer,
        generator=stages.generator,
    )
    same_service = HttpSpecVerifier(StageEndpoint(url="http://127.0.0.1:8205", token=TOKEN))

    with pytest.raises(ValueError, match="never grades itself"):
        evaluate(
            Stage.SPEC_VERIFIER,
            incumbent=stages.verifier,
            candidate=same_service,
            cases=history,
            referees=routed,
        )
