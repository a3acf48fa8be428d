"""Policy unit tests, like `opa test`: `tests/*.yaml` beside the policies, each case an intent and the
action (and optionally the matched policies and approvals) the policies must give it.

A case file:

    policies: [seed.json]          # optional: which policy files of the directory; default all of them
    cases:
      - name: a new spec-builder version needs a person
        intent: {service_name: spec-builder-v2, purpose: Better SPEC templates, tier: 0}
        alignment_score: 0.95      # given, so a case never depends on a scorer
        alignment_method: lexical  # optional: as if this method scored it (given, lexical, claude)
        author: alice              # optional
        changed_files: [intents/spec-builder-v2.yaml]   # optional; this is the default
        expect: requires_approval
        matched: [Always require approval for self-modification]   # optional, in any order
        approvals: 1               # optional

Cases run with the server-side floor (`policies/floor/floor.yaml` unless told otherwise) applied, as the bot
applies it, so they show what the bot would decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from pipeline.governance.alignment import AlignmentMethod, GivenScore
from pipeline.governance.decision import Decision
from pipeline.governance.engine import govern
from pipeline.governance.loading import (
    PolicyLoadError,
    PolicySet,
    load_policy_sources,
    read_policy_path,
)
from pipeline.governance.policy import Location, PolicyAction, PolicyProblem
from pipeline.governance.variables import PushContext
from pipeline.governance.yamldoc import KEY, Document, DocumentError, PathKey, read_document
from pipeline.intents import Intent, InvalidIntent, parse_intent_mapping

TESTS_DIRECTORY = "tests"
CASE_SUFFIXES = (".yaml", ".yml")
MAX_CASE_FILE_BYTES = 1024 * 1024
CASE_RATIONALE = "given by the policy test case"


class _CaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = Field(min_length=1)
    intent: dict[str, Any]
    alignment_score: StrictFloat | StrictInt = Field(ge=0, le=1)
    alignment_method: AlignmentMethod = AlignmentMethod.GIVEN
    author: StrictStr = ""
    changed_files: list[StrictStr] | None = None
    expect: PolicyAction
    matched: list[StrictStr] | None = None
    approvals: StrictInt | None = Field(default=None, ge=0)


class _CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policies: list[StrictStr] | None = None
    cases: list[_CaseSpec] = Field(min_length=1)


@dataclass(frozen=True)
class PolicyCase:
    name: str
    location: Location
    intent: Intent
    alignment_score: float
    alignment_method: AlignmentMethod
    context: PushContext
    expect: PolicyAction
    matched: frozenset[str] | None
    approvals: int | None
    policy_files: tuple[str, ...] | None


@dataclass(frozen=True)
class CaseResult:
    case: PolicyCase
    decision: Decision
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class PolicyTestReport:
    results: tuple[CaseResult, ...]
    problems: tuple[PolicyProblem, ...]
    """Policy or case files that could not be read; each one fails the run."""

    @property
    def passed(self) -> bool:
        return not self.problems and all(result.passed for result in self.results)


def load_cases(data: bytes, *, source: str) -> list[PolicyCase]:
    """Read one case file. Raises PolicyLoadError naming file and line of every problem."""
    try:
        document = read_document(data, max_bytes=MAX_CASE_FILE_BYTES)
    except DocumentError as exc:
        raise PolicyLoadError([PolicyProblem(source, exc.line, exc.column, exc.message)]) from None
    try:
        spec = _CaseFile.model_validate(document.value)
    except ValidationError as exc:
        raise PolicyLoadError(_spec_problems(exc, document, source)) from None
    cases: list[PolicyCase] = []
    problems: list[PolicyProblem] = []
    for index, case in enumerate(spec.cases):
        try:
            cases.append(_case(case, spec, document, ("cases", index), source))
        except InvalidIntent as exc:
            problems.extend(
                PolicyProblem(
                    p.file, p.line, p.column, f"intent: {p.field + ': ' if p.field else ''}{p.message}"
                )
                for p in exc.problems
            )
    if problems:
        raise PolicyLoadError(problems)
    return cases


def _spec_problems(exc: ValidationError, document: Document, source: str) -> list[PolicyProblem]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        field = ".".join(str(part) for part in loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        at = document.position
        if error["type"] == "extra_forbidden":
            message, at = "unknown field", document.key_position
        problems.append(PolicyProblem(source, *at(loc), f"{field}: {message}"))
    return problems


def _case(case: _CaseSpec, spec: _CaseFile, document: Document, path: PathKey, source: str) -> PolicyCase:
    intent_path = (*path, "intent")
    positions = {
        key[len(intent_path) :]: value
        for key, value in document.positions.items()
        if key[: len(intent_path)] == intent_path and key[-1] != KEY
    }
    intent = parse_intent_mapping(case.intent, source=source, positions=positions)
    changed = case.changed_files
    if changed is None:
        changed = [f"intents/{intent.service_name}.yaml"]
    return PolicyCase(
        name=case.name,
        location=Location(source, *document.position(path)),
        intent=intent,
        alignment_score=float(case.alignment_score),
        alignment_method=case.alignment_method,
        context=PushContext.of(author=case.author, changed_files=changed),
        expect=case.expect,
        matched=frozenset(case.matched) if case.matched is not None else None,
        approvals=case.approvals,
        policy_files=tuple(spec.policies) if spec.policies is not None else None,
    )


def run_case(case: PolicyCase, policies: PolicySet, *, floor: PolicySet | None = None) -> CaseResult:
    decision = govern(
        case.intent,
        policies,
        scorer=GivenScore(case.alignment_score, CASE_RATIONALE, method=case.alignment_method),
        blueprint=None,
        context=case.context,
        floor=floor,
    )
    failures = [str(error) for error in decision.errors]
    if decision.action is not case.expect:
        failures.append(f"expected {case.expect.value}, got {decision.action.value}")
    names = frozenset(m.name for m in decision.matched)
    if case.matched is not None and names != case.matched:
        failures.append(f"expected matched {sorted(case.matched)}, got {sorted(names)}")
    if case.approvals is not None and decision.approvals_required != case.approvals:
        failures.append(f"expected {case.approvals} approval(s), got {decision.approvals_required}")
    return CaseResult(case, decision, tuple(failures))


def run_policy_tests(directory: Path, *, floor: PolicySet | None) -> PolicyTestReport:
    """Run every case under `directory/tests` against the policies in `directory`, with `floor` (the
    server-side floor, see `load_floor`; None: without one) applied as the bot applies it."""
    try:
        files = read_policy_path(directory)
    except PolicyLoadError as exc:
        return PolicyTestReport((), exc.problems)
    problems: list[PolicyProblem] = []
    try:
        # Every policy file must load, even one that no case selects: it would be in force in production.
        load_policy_sources(files)
    except PolicyLoadError as exc:
        problems.extend(exc.problems)
    cases = _load_all_cases(directory / TESTS_DIRECTORY, problems)
    results = []
    sets: dict[tuple[str, ...], PolicySet] = {}
    for case in cases:
        try:
            policies = _policies_for(case, files, directory, sets)
        except PolicyLoadError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
            continue
        results.append(run_case(case, policies, floor=floor))
    return PolicyTestReport(tuple(results), tuple(problems))


def _load_all_cases(tests: Path, problems: list[PolicyProblem]) -> list[PolicyCase]:
    case_files = sorted(p for p in tests.glob("*") if p.suffix in CASE_SUFFIXES and p.is_file())
    if not case_files:
        problems.append(PolicyProblem(str(tests), 0, 0, "no policy test files (*.yaml)"))
    cases: list[PolicyCase] = []
    for path in case_files:
        try:
            cases.extend(load_cases(path.read_bytes(), source=str(path)))
        except PolicyLoadError as exc:
            problems.extend(exc.problems)
    return cases


def _policies_for(
    case: PolicyCase, files: Mapping[str, bytes], directory: Path, sets: dict[tuple[str, ...], PolicySet]
) -> PolicySet:
    wanted = (
        tuple(sorted(files))
        if case.policy_files is None
        else tuple(str(directory / name) for name in case.policy_files)
    )
    if wanted not in sets:
        missing = [name for name in wanted if name not in files]
        if missing:
            raise PolicyLoadError(
                [
                    PolicyProblem(str(case.location.file), 0, 0, f"policies: no such policy file {name}")
                    for name in missing
                ]
            )
        sets[wanted] = load_policy_sources({name: files[name] for name in wanted})
    return sets[wanted]
