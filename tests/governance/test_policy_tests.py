"""Policy unit tests (`policies/tests/*.yaml`): the shipped cases pass, and broken ones say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.governance import PolicyAction, PolicyLoadError, load_floor
from pipeline.governance.policytest import load_cases, run_policy_tests
from tests.governance.conftest import POLICIES, SEED_POLICIES, write

SHIPPED = run_policy_tests(POLICIES, floor=load_floor(None))


def test_the_shipped_policy_files_and_cases_load() -> None:
    assert SHIPPED.problems == ()
    assert len(SHIPPED.results) >= 15


@pytest.mark.parametrize("result", SHIPPED.results, ids=lambda result: result.case.name)
def test_each_shipped_case_passes(result: object) -> None:
    assert result.passed, result.failures  # type: ignore[attr-defined]


def test_cases_default_changed_files_to_the_intent_path() -> None:
    (case,) = load_cases(
        b"cases:\n  - {name: c, intent: {service_name: notes, purpose: Notes}, alignment_score: 1,"
        b" expect: blocked}\n",
        source="t.yaml",
    )
    assert case.context.changed_files == ("intents/notes.yaml",)
    assert case.expect is PolicyAction.BLOCKED and case.alignment_score == 1.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"cases: []\n", "t.yaml:1:8: cases: List should have at least 1 item"),
        (
            b"cases:\n  - name: c\n    intent: {service_name: notes, purpose: Notes}\n    expect: nope\n"
            b"    alignment_score: 0.5\n",
            "t.yaml:4:13: cases.0.expect: Input should be",
        ),
        (
            b"cases:\n  - name: c\n    intent: {service_name: notes, purpose: Notes}\n    expect: blocked\n",
            "t.yaml:2:5: cases.0.alignment_score: Field required",
        ),
        (
            b"cases:\n  - name: c\n    intent: {service_name: notes, purpose: Notes}\n    expect: blocked\n"
            b"    alignment_score: 0.5\n    expected: blocked\n",
            "t.yaml:6:5: cases.0.expected: unknown field",
        ),
        (
            b"cases:\n  - name: c\n    intent:\n      service_name: Notes\n      purpose: Notes\n"
            b"    expect: blocked\n    alignment_score: 0.5\n",
            "t.yaml:4:21: intent: service_name: must be lowercase",
        ),
    ],
)
def test_broken_case_files_name_file_and_line(text: bytes, problem: str) -> None:
    with pytest.raises(PolicyLoadError) as raised:
        load_cases(text, source="t.yaml")
    assert any(str(p).startswith(problem) for p in raised.value.problems), raised.value.problems


def test_a_broken_policy_file_fails_the_run_even_when_no_case_selects_it(tmp_path: Path) -> None:
    write(tmp_path / "seed.json", SEED_POLICIES.read_text(encoding="utf-8"))
    write(tmp_path / "draft.yaml", "- name: draft\n  rule: tier ==\n  action: blocked\n  reason: r\n")
    write(
        tmp_path / "tests" / "t.yaml",
        "policies: [seed.json]\ncases:\n  - name: c\n    intent: {service_name: notes, purpose: Notes}\n"
        "    alignment_score: 0.5\n    expect: blocked\n",
    )
    report = run_policy_tests(tmp_path, floor=None)
    assert [result.passed for result in report.results] == [True]
    assert not report.passed
    assert [p.file for p in report.problems] == [str(tmp_path / "draft.yaml")]


def test_a_case_naming_a_missing_policy_file_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path / "seed.json", SEED_POLICIES.read_text(encoding="utf-8"))
    write(
        tmp_path / "tests" / "t.yaml",
        "policies: [other.yaml]\ncases:\n  - name: c\n    intent: {service_name: notes, purpose: Notes}\n"
        "    alignment_score: 0.5\n    expect: blocked\n",
    )
    report = run_policy_tests(tmp_path, floor=None)
    assert report.results == ()
    assert [p.message for p in report.problems] == [
        f"policies: no such policy file {tmp_path / 'other.yaml'}"
    ]


def test_a_directory_without_cases_fails(tmp_path: Path) -> None:
    write(tmp_path / "seed.json", SEED_POLICIES.read_text(encoding="utf-8"))
    report = run_policy_tests(tmp_path, floor=None)
    assert not report.passed
    assert report.problems[0].message == "no policy test files (*.yaml)"
