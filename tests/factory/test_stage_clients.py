"""The HTTP stages against services that fail: every way a stage service can give no usable answer raises
StageUnavailable with the failure named (unreachable, timeout, refused, malformed), so a caller can fall
back to the built-in stage for that call; governance fails closed on an unusable scorer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline.factory.builtin import BuiltinSpecOptimizer, BuiltinSpecVerifier
from pipeline.factory.clients import (
    MAX_ANSWER_BYTES,
    HttpAlignmentScorer,
    HttpSpecBuilder,
    HttpSpecOptimizer,
    HttpSpecVerifier,
    ScorerUnavailable,
    StageEndpoint,
    StageFailure,
    StageUnavailable,
)
from pipeline.factory.conformance import BLUEPRINT, FREE_TEXT, GREETINGS, SpecInput
from pipeline.factory.contracts import CONTRACT_VERSION, OptimizeAnswer, VerifyAnswer
from pipeline.governance import AlignmentUnavailable, PolicyAction, govern, load_policies
from pipeline.spec.model import Spec
from tests.conftest import ROOT
from tests.fixtures.servers import free_port
from tests.fixtures.stage_services import STAGE_TOKEN, ScriptedService, scripted_service, stage_service

TOKEN = SecretStr(STAGE_TOKEN)


@pytest.fixture
def scripted() -> Iterator[tuple[str, ScriptedService]]:
    with scripted_service() as served:
        yield served


@pytest.fixture(scope="module")
def greetings() -> Spec:
    return SpecInput(GREETINGS).spec()


def verifier_at(url: str, *, timeout_s: float = 30.0) -> HttpSpecVerifier:
    return HttpSpecVerifier(StageEndpoint(url, TOKEN, timeout_s))


def verify_answer(spec: Spec) -> dict[str, Any]:
    return VerifyAnswer.of(spec.service_name, BuiltinSpecVerifier().verify(spec)).model_dump(mode="json")


def failure_of(call: Any) -> StageUnavailable:
    with pytest.raises(StageUnavailable) as raised:
        call()
    return raised.value


def test_the_request_carries_the_token_and_the_contract(
    scripted: tuple[str, ScriptedService], greetings: Spec
) -> None:
    url, service = scripted
    service.answer("/verify", verify_answer(greetings))
    assert verifier_at(url).verify(greetings).score == 100
    (received,) = service.received
    assert received.headers["authorization"] == f"Bearer {STAGE_TOKEN}"
    assert received.headers["content-type"] == "application/json"
    sent = json.loads(received.body)
    assert Spec.model_validate(sent["spec"]) == greetings and sent["documents"] == []


def test_nothing_listening_is_unreachable(greetings: Spec) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    failure = failure_of(lambda: verifier_at(url).verify(greetings))
    assert failure.failure is StageFailure.UNREACHABLE and failure.url == url


def test_no_answer_in_time_is_a_timeout(scripted: tuple[str, ScriptedService], greetings: Spec) -> None:
    url, service = scripted
    service.stall("/verify")
    failure = failure_of(lambda: verifier_at(url, timeout_s=0.3).verify(greetings))
    assert failure.failure is StageFailure.TIMEOUT
    assert "no complete answer within 0.3 s" in str(failure)


def test_an_answer_that_never_ends_is_a_timeout_however_steadily_it_trickles(
    scripted: tuple[str, ScriptedService], greetings: Spec
) -> None:
    url, service = scripted
    service.trickle("/verify")
    failure = failure_of(lambda: verifier_at(url, timeout_s=0.5).verify(greetings))
    assert failure.failure is StageFailure.TIMEOUT


def test_a_wrong_token_is_refused_by_the_real_stage_app(greetings: Spec) -> None:
    with stage_service(token="the-service-expects-another") as url:
        failure = failure_of(lambda: verifier_at(url).verify(greetings))
    assert failure.failure is StageFailure.REFUSED
    assert "it answered 401: missing or wrong bearer token" in str(failure)


def test_a_request_the_contract_does_not_allow_is_refused_before_it_is_sent(
    scripted: tuple[str, ScriptedService],
) -> None:
    url, service = scripted
    scorer = HttpAlignmentScorer(StageEndpoint(url, TOKEN))
    failure = failure_of(lambda: scorer.score(GREETINGS.intent(), "x" * 200_001))
    assert failure.failure is StageFailure.REFUSED and "blueprint" in str(failure)
    assert service.received == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (lambda ok: {**ok, "contract_version": "2"}, "contract_version: Input should be '1'"),
        (lambda ok: {**ok, "score": 140}, "score: Input should be less than or equal to 100"),
        (lambda ok: {k: v for k, v in ok.items() if k != "findings"}, "findings: Field required"),
        (lambda ok: {**ok, "hard_checks_passed": False}, "hard_checks_passed is False but the findings lack"),
        (lambda ok: {**ok, "service_name": "someone-else"}, "it answered for service 'someone-else'"),
        (lambda ok: [ok], "Input should be a valid dictionary"),
    ],
)
def test_an_answer_that_is_not_the_contract_is_malformed(
    scripted: tuple[str, ScriptedService], greetings: Spec, answer: Any, problem: str
) -> None:
    url, service = scripted
    service.answer("/verify", answer(verify_answer(greetings)))
    failure = failure_of(lambda: verifier_at(url).verify(greetings))
    assert failure.failure is StageFailure.MALFORMED
    assert problem in str(failure)


@pytest.mark.parametrize(
    ("content", "headers", "problem"),
    [
        (b"<html>busy</html>", None, "the answer is not JSON"),
        (b"\xff\xfe{}", None, "the answer is not JSON"),
        (b" " * (MAX_ANSWER_BYTES + 1), None, f"larger than {MAX_ANSWER_BYTES} bytes"),
    ],
)
def test_an_answer_that_is_not_json_or_too_large_is_malformed(
    scripted: tuple[str, ScriptedService],
    greetings: Spec,
    content: bytes,
    headers: dict[str, str] | None,
    problem: str,
) -> None:
    url, service = scripted
    service.raw("/verify", content, headers=headers)
    failure = failure_of(lambda: verifier_at(url).verify(greetings))
    assert failure.failure is StageFailure.MALFORMED and problem in str(failure)


def test_a_service_error_is_refused_with_its_words_made_harmless(
    scripted: tuple[str, ScriptedService], greetings: Spec
) -> None:
    url, service = scripted
    service.answer("/verify", {"detail": "overloaded\x1b[31m\n" + "x" * 1000}, status=503)
    failure = failure_of(lambda: verifier_at(url).verify(greetings))
    assert failure.failure is StageFailure.REFUSED
    assert "it answered 503: overloaded" in str(failure)
    assert "\x1b" not in str(failure) and "\n" not in str(failure) and len(str(failure)) < 500


def test_an_optimizer_that_overclaims_the_gate_is_malformed(
    scripted: tuple[str, ScriptedService],
) -> None:
    url, service = scripted
    spec = SpecInput(FREE_TEXT).spec()
    honest = OptimizeAnswer.of(BuiltinSpecOptimizer().optimize(spec, gate=90, max_rounds=3)).model_dump(
        mode="json"
    )
    assert honest["reached_gate"] is False
    service.answer("/optimize", {**honest, "reached_gate": True})
    optimizer = HttpSpecOptimizer(StageEndpoint(url, TOKEN))
    failure = failure_of(lambda: optimizer.optimize(spec, gate=90, max_rounds=3))
    assert failure.failure is StageFailure.MALFORMED and "reached_gate is True" in str(failure)
    service.answer("/optimize", {**honest, "gate": 50})
    failure = failure_of(lambda: optimizer.optimize(spec, gate=90, max_rounds=3))
    assert "optimized towards gate 50, not 90" in str(failure)


def test_a_builder_answering_for_another_service_is_malformed(scripted: tuple[str, ScriptedService]) -> None:
    url, service = scripted
    other = SpecInput(FREE_TEXT).spec()
    service.answer("/build", {"contract_version": CONTRACT_VERSION, "spec": other.to_json()})
    builder = HttpSpecBuilder(StageEndpoint(url, TOKEN))
    failure = failure_of(lambda: builder.build(GREETINGS.intent(), blueprint=BLUEPRINT))
    assert failure.failure is StageFailure.MALFORMED
    assert "it answered for service 'spec-trends', not 'greetings'" in str(failure)


def test_governance_fails_closed_when_the_scorer_service_is_unavailable() -> None:
    scorer = HttpAlignmentScorer(StageEndpoint(f"http://127.0.0.1:{free_port()}", TOKEN))
    with pytest.raises(ScorerUnavailable) as raised:
        scorer.score(GREETINGS.intent(), BLUEPRINT)
    assert isinstance(raised.value, AlignmentUnavailable) and isinstance(raised.value, StageUnavailable)
    decision = govern(
        GREETINGS.intent(),
        load_policies(ROOT / "policies" / "defaults.yaml"),
        scorer=scorer,
        blueprint=BLUEPRINT,
    )
    assert decision.action is not PolicyAction.AUTO_APPROVE
    assert decision.alignment.score is None
    assert any("alignment-scorer stage" in error.message for error in decision.errors)


def test_an_endpoint_needs_a_token_and_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="non-empty token"):
        StageEndpoint("http://127.0.0.1:1", SecretStr(""))
    with pytest.raises(ValueError, match="timeout must be positive"):
        StageEndpoint("http://127.0.0.1:1", TOKEN, 0)
