"""spec-builder, spec-verifier and spec-optimizer, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.codegen.context import CodegenError
from pipeline.codegen.generator import template_values
from pipeline.intents import parse_intent_mapping
from pipeline.spec.builder import build_spec
from pipeline.spec.model import NEEDS_CLARIFICATION, AcceptanceCriterion, Endpoint, Spec
from pipeline.spec.optimizer import optimize
from pipeline.spec.render import read_spec, render_markdown, write_spec
from pipeline.spec.verifier import HARD_CHECK_CAP, RUBRIC_VERSION, verify
from tests.factory.conftest import FREE_TEXT, STRUCTURED, load_example


@pytest.mark.parametrize("name", STRUCTURED)
def test_structured_examples_reach_the_gate_offline(examples_dir: Path, blueprint: str, name: str) -> None:
    spec = build_spec(load_example(examples_dir, name), blueprint=blueprint)
    report = optimize(spec)
    assert report.reached_gate, report.verification.to_json()
    assert report.verification.score >= 90
    assert report.verification.rubric_version == RUBRIC_VERSION


@pytest.mark.parametrize("name", FREE_TEXT)
def test_free_text_intents_get_an_honest_below_gate_report(
    examples_dir: Path, blueprint: str, name: str
) -> None:
    report = optimize(build_spec(load_example(examples_dir, name), blueprint=blueprint))
    assert not report.reached_gate
    assert report.verification.score <= HARD_CHECK_CAP
    codes = {f.code for f in report.verification.findings}
    assert {"no-service-endpoint", "fr-uncovered"} <= codes
    assert all(q.startswith(NEEDS_CLARIFICATION) for q in report.spec.open_questions)
    assert 1 <= len(report.spec.open_questions) <= 3
    # Stops as soon as a round brings nothing, not after burning every round.
    assert len(report.rounds) == 2


def test_builder_is_deterministic(examples_dir: Path, blueprint: str) -> None:
    intent = load_example(examples_dir, "bookmarks")
    first, second = build_spec(intent, blueprint=blueprint), build_spec(intent, blueprint=blueprint)
    assert first == second
    assert first.content_hash() == second.content_hash()


def test_spec_follows_the_hints(examples_dir: Path, blueprint: str) -> None:
    spec = build_spec(load_example(examples_dir, "bookmarks"), blueprint=blueprint)
    routes = {(ep.method.value, ep.path) for ep in spec.endpoints}
    assert {("POST", "/bookmarks"), ("GET", "/bookmarks/{id}"), ("DELETE", "/bookmarks/{id}")} <= routes
    assert spec.data_model.storage.value == "sqlite"
    assert any("SQLite" in fr.statement for fr in spec.functional_requirements)
    entity = spec.entity("bookmark")
    assert entity is not None
    assert {f.name for f in entity.fields if f.required} == {"url", "title"}
    assert {t.goal for t in spec.blueprint_trace} == {"Shared internal tools"}


def _without_errors(spec: Spec) -> list[Endpoint]:
    return [spec.endpoints[0].model_copy(update={"errors": []}), *spec.endpoints[1:]]


def _hello_fr(spec: Spec) -> str:
    """The requirement of GET /hello (its statement names the route, so a repair can find its endpoint)."""
    return next(fr.id for fr in spec.functional_requirements if "GET /hello." in fr.statement)


def _without_fr6(spec: Spec) -> list[AcceptanceCriterion]:
    return [ac for ac in spec.acceptance_criteria if ac.requirement != _hello_fr(spec)]


def test_hard_checks_cap_the_score_and_name_the_subject(hello_spec: Spec) -> None:
    endpoints = _without_errors(hello_spec)
    vague = {"target": None, "statement": "Replies are fast."}
    nfrs = [hello_spec.non_functional[0].model_copy(update=vague)]
    damaged = hello_spec.model_copy(
        update={
            "endpoints": endpoints,
            "non_functional": nfrs + hello_spec.non_functional[1:],
            "acceptance_criteria": _without_fr6(hello_spec),
        }
    )
    verification = verify(damaged)
    assert not verification.hard_checks_passed
    assert verification.score <= HARD_CHECK_CAP
    found = {(f.code, f.subject) for f in verification.findings}
    assert ("endpoint-no-errors", "EP-001") in found
    assert ("nfr-no-number", "NFR-001") in found
    assert ("vague-word", "NFR-001") in found
    assert ("fr-uncovered", _hello_fr(hello_spec)) in found


def test_optimizer_repairs_what_follows_from_the_spec(hello_spec: Spec) -> None:
    duplicated = hello_spec.functional_requirements[1].model_copy(update={"id": "FR-001"})
    damaged = hello_spec.model_copy(
        update={
            "endpoints": _without_errors(hello_spec),
            "acceptance_criteria": _without_fr6(hello_spec),
            "functional_requirements": [
                hello_spec.functional_requirements[0],
                duplicated,
                *hello_spec.functional_requirements[2:],
            ],
            "open_questions": ["a", "b", "c", "d"],
        }
    )
    report = optimize(damaged)
    assert report.rounds[0].score <= HARD_CHECK_CAP
    assert report.reached_gate, report.verification.to_json()
    assert len(report.rounds) <= 4
    fixed = report.spec
    assert fixed.endpoints[0].errors
    hello = next(ep.id for ep in fixed.endpoints if ep.path == "/hello")
    assert any(
        ac.requirement == _hello_fr(fixed) and ac.endpoint == hello for ac in fixed.acceptance_criteria
    )
    assert len({fr.id for fr in fixed.functional_requirements}) == len(fixed.functional_requirements)
    assert len(fixed.open_questions) == 3


def test_unreachable_gate_stops_after_the_rounds_allowed(hello_spec: Spec) -> None:
    report = optimize(hello_spec, gate=101, max_rounds=3)
    assert not report.reached_gate
    assert report.verification.score == 100
    assert len(report.rounds) == 2  # round 0, then one round that changes nothing


def test_markdown_has_every_section_and_round_trips(hello_spec: Spec, tmp_path: Path) -> None:
    markdown = render_markdown(hello_spec)
    for heading in (
        "Overview and scope",
        "Blueprint trace",
        "Functional requirements",
        "Endpoints",
        "Data model",
        "Acceptance criteria",
        "Non-functional",
        "Security",
        "Observability",
        "Deployment",
        "Open questions",
    ):
        assert "## " in markdown and heading in markdown
    assert "**FR-001** The service MUST" in markdown
    assert "**Given**" in markdown
    md, structured = write_spec(hello_spec, tmp_path / "out")
    assert md.read_text(encoding="utf-8") == markdown
    assert read_spec(structured) == hello_spec
    assert read_spec(tmp_path / "out") == hello_spec


def test_read_spec_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "spec.json"
    bad.write_text('{\n  "service_name": "x",\n  oops\n}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"spec\.json:3:3: not JSON"):
        read_spec(bad)
    bad.write_text(json.dumps({"service_name": "x"}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a valid spec"):
        read_spec(bad)


def test_intent_without_blueprint_context_asks_which_goal() -> None:
    intent = parse_intent_mapping({"service_name": "notes", "purpose": "Keep notes."}, source="api")
    spec = build_spec(intent)
    assert any("blueprint goal" in q for q in spec.open_questions)
    assert not verify(spec).passes()


def test_the_same_route_twice_is_a_hard_finding(hello_spec: Spec) -> None:
    twin = hello_spec.endpoints[2].model_copy(update={"id": "EP-009", "path": "/greetings/{greeting_id}"})
    verification = verify(hello_spec.model_copy(update={"endpoints": [*hello_spec.endpoints, twin]}))
    assert ("duplicate-route", "EP-009") in {(f.code, f.subject) for f in verification.findings}
    assert not verification.passes()


VAGUE_PURPOSE = "A fast, user-friendly and robust link store"


def test_a_vague_purpose_in_the_goal_is_found_and_left_for_a_person() -> None:
    intent = parse_intent_mapping(
        {
            "service_name": "links",
            "purpose": VAGUE_PURPOSE,
            "blueprint_context": "Shared internal tools.",
            "resources": [{"name": "link", "fields": {"url": "string"}, "required": ["url"]}],
        },
        source="api",
    )
    report = optimize(build_spec(intent))
    vague = [f for f in report.verification.findings if f.code == "vague-word"]
    assert {(f.section, f.subject) for f in vague} == {("overview", "overview.goal")}
    assert {m for f in vague for m in ("'fast'", "'user-friendly'", "'robust'") if m in f.message} == {
        "'fast'",
        "'user-friendly'",
        "'robust'",
    }
    assert all("reword it" in f.message for f in vague)
    # The optimizer does not put words in the author's mouth: the goal is unchanged, the spec below the gate.
    assert report.spec.overview.goal == VAGUE_PURPOSE
    assert not report.reached_gate
    assert report.verification.score <= HARD_CHECK_CAP


def _prose_damage(spec: Spec, section: str) -> Spec:
    overview = spec.overview
    if section == "overview.scope":
        return spec.model_copy(
            update={"overview": overview.model_copy(update={"scope": [*overview.scope, "An easy API."]})}
        )
    if section == "overview.out_of_scope":
        extra = [*overview.out_of_scope, "Anything beyond a simple store."]
        return spec.model_copy(update={"overview": overview.model_copy(update={"out_of_scope": extra})})
    if section == "security":
        return spec.model_copy(update={"security": [*spec.security, "Secrets are kept in a robust way."]})
    if section == "observability":
        return spec.model_copy(update={"observability": ["Logs are user-friendly.", *spec.observability]})
    errors = [spec.endpoints[0].errors[0].model_copy(update={"when": "the body is not appropriate"})]
    endpoint = spec.endpoints[0].model_copy(update={"errors": errors})
    return spec.model_copy(update={"endpoints": [endpoint, *spec.endpoints[1:]]})


@pytest.mark.parametrize(
    ("where", "section", "word"),
    [
        ("overview.scope", "overview", "easy"),
        ("overview.out_of_scope", "overview", "simple"),
        ("security", "security", "robust"),
        ("observability", "observability", "user-friendly"),
        ("endpoint error", "endpoints", "appropriate"),
    ],
)
def test_vague_words_are_found_in_every_prose_section(
    hello_spec: Spec, where: str, section: str, word: str
) -> None:
    verification = verify(_prose_damage(hello_spec, where))
    vague = [f for f in verification.findings if f.code == "vague-word"]
    assert [(f.section, f"'{word}'" in f.message) for f in vague] == [(section, True)]
    assert not verification.passes()


def test_an_open_question_may_name_an_unclear_word(hello_spec: Spec) -> None:
    question = f"{NEEDS_CLARIFICATION} What does 'fast' mean for this service, in ms?"
    verification = verify(hello_spec.model_copy(update={"open_questions": [question]}))
    assert "vague-word" not in {f.code for f in verification.findings}


def _damage(spec: Spec, kind: str) -> Spec:
    """A spec with one thing code generation cannot do without taken away."""
    data = spec.to_json()
    if kind == "no-entities":
        data["data_model"]["entities"] = []
    elif kind == "unknown-operation":
        data["endpoints"][0]["operation"] = "upsert"
    elif kind == "get-without-id":
        data["endpoints"][2]["path"] = "/greeting"
    elif kind == "no-create-endpoint":
        data["endpoints"] = [ep for ep in data["endpoints"] if ep["operation"] != "create"]
        data["acceptance_criteria"] = [ac for ac in data["acceptance_criteria"] if ac["endpoint"] != "EP-001"]
    elif kind == "unknown-check":
        data["acceptance_criteria"][0]["check"] = "looks_fine"
    elif kind == "entity-no-fields":
        data["data_model"]["entities"][0]["fields"] = []
    return Spec.model_validate(data)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("no-entities", "unknown-resource"),
        ("unknown-operation", "unknown-operation"),
        ("get-without-id", "no-id-parameter"),
        ("no-create-endpoint", "no-create-endpoint"),
        ("entity-no-fields", "entity-no-fields"),
    ],
)
def test_what_codegen_cannot_generate_fails_a_hard_check(hello_spec: Spec, kind: str, code: str) -> None:
    damaged = _damage(hello_spec, kind)
    verification = verify(damaged)
    assert code in {f.code for f in verification.findings if f.hard}, verification.to_json()
    assert not optimize(damaged).reached_gate
    with pytest.raises((CodegenError, IndexError)):
        template_values(damaged)  # what a passing score would have led to


def test_an_unknown_test_scenario_is_a_hard_finding(hello_spec: Spec) -> None:
    verification = verify(_damage(hello_spec, "unknown-check"))
    assert ("unknown-check", "AC-001") in {(f.code, f.subject) for f in verification.findings if f.hard}


def test_a_spec_json_without_deployment_is_missing_a_section(hello_spec: Spec, tmp_path: Path) -> None:
    data = hello_spec.to_json()
    del data["deployment"]
    (tmp_path / "spec.json").write_text(json.dumps(data), encoding="utf-8")
    verification = verify(read_spec(tmp_path))
    assert ("section-missing", "deployment") in {(f.code, f.section) for f in verification.findings}
    assert not verification.passes()


def test_the_health_path_must_be_served(hello_spec: Spec) -> None:
    deployment = hello_spec.deployment.model_copy(update={"health_path": "/healthz"})
    verification = verify(hello_spec.model_copy(update={"deployment": deployment}))
    assert "no-health-endpoint" in {f.code for f in verification.findings if f.hard}


def test_every_requirement_is_traced_and_a_single_goal_is_repaired(hello_spec: Spec) -> None:
    damaged = hello_spec.model_copy(update={"blueprint_trace": hello_spec.blueprint_trace[1:]})
    verification = verify(damaged)
    assert ("fr-not-traced", "FR-001") in {(f.code, f.subject) for f in verification.findings if f.hard}
    report = optimize(damaged)
    assert report.reached_gate
    assert {t.requirement for t in report.spec.blueprint_trace} >= {"FR-001"}


def test_too_many_open_questions_is_hard_and_trimmed_even_at_full_score(hello_spec: Spec) -> None:
    questions = [f"{NEEDS_CLARIFICATION} question {n}?" for n in range(4)]
    damaged = hello_spec.model_copy(update={"open_questions": questions})
    verification = verify(damaged)
    assert "too-many-questions" in {f.code for f in verification.findings if f.hard}
    assert not verification.passes(gate=0)
    report = optimize(damaged, gate=0)
    assert report.reached_gate
    assert report.spec.open_questions == questions[:3]


@pytest.mark.parametrize("rounds", [0, 4, 10])
def test_optimizer_rounds_are_capped_at_three(hello_spec: Spec, rounds: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 3"):
        optimize(hello_spec, max_rounds=rounds)
