"""Honest SPEC scores: an endpoint offline generation would leave a placeholder is a hard finding naming
the hint that fixes it, a behaviour must fit the data model, every requirement maps to an endpoint and a
generated test, and SPEC.md says what each endpoint does in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.codegen.generator import generate_service
from pipeline.intents import parse_intent_mapping
from pipeline.spec.builder import build_spec
from pipeline.spec.model import Condition, QueryBehaviour, Spec
from pipeline.spec.optimizer import optimize
from pipeline.spec.render import render_markdown
from pipeline.spec.verifier import HARD_CHECK_CAP, verify
from tests.conftest import EXAMPLES
from tests.factory.conftest import STRUCTURED, load_example

TRENDS = {
    "service_name": "trends",
    "purpose": "Show the team which notes were written lately.",
    "blueprint_context": "Shared internal tools.",
    "resources": [{"name": "note", "fields": {"title": "string", "written": "datetime"}}],
}


def spec_with(endpoint: dict[str, object], **extra: object) -> Spec:
    intent = parse_intent_mapping({**TRENDS, "endpoints": [endpoint], **extra}, source="intents/trends.yaml")
    return build_spec(intent)


@pytest.mark.parametrize(
    ("method", "path", "hint"),
    [
        ("GET", "/trends", "a `query` (rows that match), an `aggregate` (count, sum, min, max) or `respond`"),
        ("GET", "/trends/{week}", "a `query` with `single: true` (one row by a field), or a `redirect`"),
        (
            "POST",
            "/notes/{id}/star",
            "an `action` (set fields, increment counters of the row the path names)",
        ),
        ("POST", "/import", "`resource: <name>` (it then creates one)"),
    ],
)
def test_a_placeholder_is_a_hard_finding_naming_the_hint_that_fixes_it(
    method: str, path: str, hint: str
) -> None:
    spec = spec_with({"method": method, "path": path, "summary": "What the trends are."})
    report = optimize(spec)
    assert not report.reached_gate and report.verification.score <= HARD_CHECK_CAP
    [finding] = [f for f in report.verification.findings if f.code == "placeholder-endpoint"]
    assert finding.hard and finding.message.startswith(
        f"EP-006 {method} {path}: no hint says what it returns"
    )
    assert "offline it would be a placeholder" in finding.message and hint in finding.message
    assert "Does nothing yet: no hint says what it returns" in render_markdown(report.spec)


def test_a_model_writes_what_no_hint_says_and_the_score_says_so(tmp_path: Path) -> None:
    spec = spec_with({"method": "GET", "path": "/trends", "summary": "What the trends are."})
    by_model = spec.model_copy(update={"logic": "model"})
    assert verify(by_model).passes() and not verify(spec).passes()
    assert "Logic written by a model." in render_markdown(by_model)
    service = generate_service(spec, tmp_path / "trends")  # forced through: its test says it does nothing
    routes = (service.directory / "app" / "routes.py").read_text()
    assert "status_code=501" in routes and "not implemented" in routes


def test_no_offline_spec_of_an_example_scores_100_with_a_placeholder() -> None:
    for name in STRUCTURED:
        spec = build_spec(load_example(EXAMPLES, name))
        assert all(ep.operation != "custom" for ep in spec.endpoints), name
        assert verify(spec).score == 100


def test_a_behaviour_that_does_not_fit_the_data_model_is_hard() -> None:
    spec = spec_with({"method": "GET", "path": "/recent", "query": {"resource": "note", "order": "-written"}})
    endpoint = next(ep for ep in spec.endpoints if ep.path == "/recent")
    broken = endpoint.model_copy(
        update={"behaviour": QueryBehaviour(where=[Condition(field="colour", value="red")])}
    )
    damaged = spec.model_copy(
        update={"endpoints": [broken if ep is endpoint else ep for ep in spec.endpoints]}
    )
    found = [f for f in verify(damaged).findings if f.code == "behaviour-mismatch"]
    assert [f.message for f in found] == [f"{endpoint.id} GET /recent: 'colour' is not a field of note"]
    static = endpoint.model_copy(update={"operation": "static"})
    wrong_kind = spec.model_copy(
        update={"endpoints": [static if ep is endpoint else ep for ep in spec.endpoints]}
    )
    assert any("needs a behaviour of kind 'static'" in f.message for f in verify(wrong_kind).findings)


def test_every_requirement_maps_to_endpoints_and_generated_tests(tmp_path: Path) -> None:
    spec = build_spec(load_example(EXAMPLES, "todo"))
    for row in spec.traceability():
        assert row.endpoints and row.tests, row
    service = generate_service(spec, tmp_path / "todo")
    tests = (service.directory / "tests" / "test_acceptance.py").read_text()
    names = [name for row in spec.traceability() for name in row.tests]
    assert all(f"def {name}(" in tests for name in names)
    markdown = render_markdown(spec)
    overdue = next(
        row for row in spec.traceability() if "GET /tasks/overdue" in _statement(spec, row.requirement)
    )
    assert f"| {overdue.requirement} | {', '.join(overdue.endpoints)} | `{overdue.tests[0]}`" in markdown


def test_a_requirement_with_no_test_and_a_check_no_test_can_run_are_findings() -> None:
    spec = build_spec(load_example(EXAMPLES, "links"))
    redirect = next(ep for ep in spec.endpoints if ep.operation == "redirect")
    untested = [ac for ac in spec.acceptance_criteria if ac.endpoint != redirect.id]
    requirement = next(ac.requirement for ac in spec.acceptance_criteria if ac.endpoint == redirect.id)
    found = {
        (f.code, f.subject)
        for f in verify(spec.model_copy(update={"acceptance_criteria": untested})).findings
    }
    assert ("fr-uncovered", requirement) in found
    mismatched = [
        ac.model_copy(update={"check": "static_ok"}) if ac.endpoint == redirect.id else ac
        for ac in spec.acceptance_criteria
    ]
    findings = verify(spec.model_copy(update={"acceptance_criteria": mismatched})).findings
    [mismatch, *_] = [f for f in findings if f.code == "check-mismatch"]
    assert mismatch.hard and "cannot test" in mismatch.message and requirement in mismatch.message


OVERDUE = (
    "Answers the tasks whose due is before the time of the request and whose done is not true, sorted by "
    "due (ascending), then id; at most 50 per page"
)
DONE = (
    "Finds the task whose id is the path's {id} (404 when none), sets done to true and sets done_at to the "
    "time of the request"
)
FOLLOW = (
    "Finds the link whose code is the path's {code} (404 when none), adds 1 to visits, and answers 302 "
    "with Location set to its target"
)
STARS = "Answers the sum of stars over the bookmarks, per tags: a list of {tags, sum}, sorted by tags"
LANGUAGES = 'Answers 200 with exactly this JSON: `["en", "fr", "es", "de", "ja"]`'
NOTES = (
    "Answers the notes whose notebook_id is the path's {id}, oldest first; 404 when no notebook has that id"
)


@pytest.mark.parametrize(
    ("name", "path", "words"),
    [
        ("todo", "/tasks/overdue", OVERDUE),
        ("todo", "/tasks/{id}/done", DONE),
        ("links", "/r/{code}", FOLLOW),
        ("bookmarks", "/bookmarks/stars-by-tag", STARS),
        ("hello-world", "/languages", LANGUAGES),
        ("notebooks", "/notebooks/{id}/notes", NOTES),
    ],
)
def test_spec_md_says_what_each_endpoint_does(name: str, path: str, words: str) -> None:
    markdown = render_markdown(build_spec(load_example(EXAMPLES, name)))
    section = markdown.split(f" {path}`\n", 1)[1].split("\n### ", 1)[0]
    assert f"**What it does.** {words}" in section


def _statement(spec: Spec, requirement: str) -> str:
    return next(fr.statement for fr in spec.functional_requirements if fr.id == requirement)
