"""The conformance suite of the factory's stages: cases as data, and the checks every implementation of a
stage passes, built in or a stage service over HTTP.

A stage service the line builds for itself runs the same cases before it may be routed. Each check returns
the problems it found (empty: the implementation conforms), so the suite runs under pytest here
(`tests/factory/test_conformance.py`) and anywhere else. The referee is always the line's own rubric
(`pipeline.spec.verifier.verify`), never the implementation under test: a builder's SPEC must pass the
rubric's hard checks, an optimizer may not claim a gate the rubric does not grant.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.factory.interfaces import (
    AlignmentScorer,
    CodeGenerator,
    SpecBuilder,
    SpecOptimizer,
    SpecVerifier,
)
from pipeline.intents import Intent, parse_intent_mapping
from pipeline.manifest import MANIFEST_FILE
from pipeline.sandbox.model import SandboxResult
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.model import Spec
from pipeline.spec.offline import build_offline
from pipeline.spec.render import SPEC_JSON, SPEC_MARKDOWN, render_markdown
from pipeline.spec.verifier import DEFAULT_GATE, HARD_CHECK_CAP, Finding, Verification, stale_markdown, verify

BLUEPRINT = """# Blueprint

## Goals
1. **Shared internal tools.** Small internal services that help the team share knowledge: notes, bookmarks,
   greetings, status pages.
2. **Quality specifications.** Every service starts from a SPEC with clear requirements, acceptance
   criteria and measurable non-functional requirements.
3. **Cost awareness.** Track API and compute cost per service and per month.

## Out of scope
Customer-facing payment processing, anything storing personal data without review, crypto mining.
"""
"""The blueprint every case is measured against."""

SERVICE_FILES = frozenset(
    {MANIFEST_FILE, SPEC_MARKDOWN, SPEC_JSON, "app/main.py", "Dockerfile", "requirements.txt"}
)
"""What a generated service folder holds at least (`pipeline.manifest`)."""
VAGUE_SENTENCE = " The answer is fast."


# -- the cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntentCase:
    """An intent as its YAML parses; `structured` ones carry the hints a SPEC at the gate needs."""

    name: str
    data: Mapping[str, Any]
    structured: bool

    @property
    def intent_path(self) -> str:
        return f"intents/{self.data['service_name']}.yaml"

    def intent(self) -> Intent:
        return parse_intent_mapping(dict(self.data), source=self.intent_path)


GREETINGS = IntentCase(
    "greetings",
    MappingProxyType(
        {
            "service_name": "greetings",
            "purpose": "Say hello in several languages, so the team can try the line end to end.",
            "resources": [
                {
                    "name": "greeting",
                    "fields": {"language": "string", "message": "string"},
                    "required": ["language"],
                }
            ],
            "endpoints": [
                {
                    "method": "GET",
                    "path": "/hello",
                    "summary": "Return the default greeting.",
                    "respond": {"language": "en", "message": "hello"},
                }
            ],
        }
    ),
    structured=True,
)
BOOKMARKS = IntentCase(
    "bookmarks",
    MappingProxyType(
        {
            "service_name": "bookmarks",
            "purpose": "Keep the team's bookmarks, so shared knowledge is found again.",
            "storage": "sqlite",
            "resources": [
                {
                    "name": "bookmark",
                    "fields": {"url": "string", "title": "string", "stars": "integer", "private": "boolean"},
                    "required": ["url"],
                }
            ],
        }
    ),
    structured=True,
)
FREE_TEXT = IntentCase(
    "free-text",
    MappingProxyType(
        {"service_name": "spec-trends", "purpose": "Analyze SPEC quality trends and suggest improvements"}
    ),
    structured=False,
)
INTENTS = (GREETINGS, BOOKMARKS, FREE_TEXT)


class Defect(StrEnum):
    """What is wrong with a case's SPEC (built by the offline builder, then changed)."""

    NONE = "none"
    VAGUE_REQUIREMENT = "vague-requirement"
    """FR-001 ends with a vague claim ("fast"): a hard finding the optimizer's repairs can fix."""
    STALE_MARKDOWN = "stale-markdown"
    """The SPEC.md beside spec.json was edited by hand: a hard finding about the document."""


@dataclass(frozen=True)
class SpecInput:
    intent: IntentCase
    defect: Defect = Defect.NONE

    def spec(self) -> Spec:
        spec = build_offline(self.intent.intent(), blueprint=BLUEPRINT, intent_path=self.intent.intent_path)
        if self.defect is not Defect.VAGUE_REQUIREMENT:
            return spec
        first, *rest = spec.functional_requirements
        vague = first.model_copy(update={"statement": first.statement + VAGUE_SENTENCE})
        return spec.model_copy(update={"functional_requirements": [vague, *rest]})

    def documents(self, spec: Spec) -> tuple[Finding, ...]:
        if self.defect is not Defect.STALE_MARKDOWN:
            return ()
        return stale_markdown(spec, "# edited by hand\n", render_markdown(spec))


@dataclass(frozen=True)
class ScoreCase:
    """The aligned intent scores higher than the one the blueprint puts out of scope."""

    name: str
    aligned: Mapping[str, Any]
    unaligned: Mapping[str, Any]


@dataclass(frozen=True)
class VerifyCase:
    name: str
    given: SpecInput
    hard_checks_pass: bool
    min_score: int = 0
    max_score: int = 100
    codes: frozenset[str] = field(default_factory=frozenset)
    """Finding codes the verification must include."""


@dataclass(frozen=True)
class OptimizeCase:
    name: str
    given: SpecInput
    reaches_gate: bool | None
    """True: the rubric passes the result at the gate; None: no expectation (it may, it may not)."""
    gate: int = DEFAULT_GATE
    max_rounds: int = 3
    unchanged: bool = False
    """A spec that already passes comes back as it was."""


SCORE_CASES = (
    ScoreCase(
        "team-tool-vs-out-of-scope",
        MappingProxyType(
            {"service_name": "team-notes", "purpose": "Share bookmarks and notes across the team."}
        ),
        MappingProxyType(
            {
                "service_name": "miner",
                "purpose": "Mine crypto on spare servers and process customer card payments.",
            }
        ),
    ),
    ScoreCase(
        "cost-vs-personal-data",
        MappingProxyType(
            {"service_name": "costs", "purpose": "Track API and compute cost per service and per month."}
        ),
        MappingProxyType(
            {"service_name": "profiles", "purpose": "Store the personal data of customers without review."}
        ),
    ),
)
VERIFY_CASES = (
    VerifyCase("greetings", SpecInput(GREETINGS), hard_checks_pass=True, min_score=DEFAULT_GATE),
    VerifyCase("bookmarks", SpecInput(BOOKMARKS), hard_checks_pass=True, min_score=DEFAULT_GATE),
    VerifyCase(
        "free-text",
        SpecInput(FREE_TEXT),
        hard_checks_pass=False,
        max_score=HARD_CHECK_CAP,
        codes=frozenset({"fr-uncovered"}),
    ),
    VerifyCase(
        "vague-requirement",
        SpecInput(GREETINGS, Defect.VAGUE_REQUIREMENT),
        hard_checks_pass=False,
        max_score=HARD_CHECK_CAP,
        codes=frozenset({"vague-word"}),
    ),
    VerifyCase(
        "stale-markdown",
        SpecInput(GREETINGS, Defect.STALE_MARKDOWN),
        hard_checks_pass=False,
        max_score=HARD_CHECK_CAP,
        codes=frozenset({"spec-md-stale"}),
    ),
)
OPTIMIZE_CASES = (
    OptimizeCase("already-at-the-gate", SpecInput(GREETINGS), reaches_gate=True, unchanged=True),
    OptimizeCase("vague-requirement", SpecInput(GREETINGS, Defect.VAGUE_REQUIREMENT), reaches_gate=True),
    OptimizeCase(
        "one-round", SpecInput(GREETINGS, Defect.VAGUE_REQUIREMENT), reaches_gate=True, max_rounds=1
    ),
    OptimizeCase("free-text", SpecInput(FREE_TEXT), reaches_gate=None),
)
BUILD_CASES = INTENTS
GENERATE_CASES = tuple(case for case in INTENTS if case.structured)


# -- the checks ---------------------------------------------------------------------------------------


def check_scorer(scorer: AlignmentScorer, case: ScoreCase) -> list[str]:
    problems: list[str] = []
    scores = []
    for data in (case.aligned, case.unaligned):
        intent = parse_intent_mapping(dict(data), source=case.name)
        alignment = scorer.score(intent, BLUEPRINT)
        if not 0.0 <= alignment.score <= 1.0:
            problems.append(f"{intent.service_name}: score {alignment.score} is outside [0, 1]")
        if not alignment.rationale.strip():
            problems.append(f"{intent.service_name}: no rationale")
        scores.append(alignment.score)
    if scores[0] <= scores[1]:
        problems.append(
            f"the aligned intent scores {scores[0]}, not more than the out-of-scope one's {scores[1]}"
        )
    return problems


def check_builder(builder: SpecBuilder, case: IntentCase) -> list[str]:
    intent = case.intent()
    spec = builder.build(intent, blueprint=BLUEPRINT, intent_path=case.intent_path)
    problems = []
    if spec.service_name != intent.service_name:
        problems.append(f"the spec is for {spec.service_name!r}, not {intent.service_name!r}")
    if spec.intent_path != case.intent_path:
        problems.append(f"the spec names intent {spec.intent_path!r}, not {case.intent_path!r}")
    if Spec.model_validate(json.loads(json.dumps(spec.to_json()))) != spec:
        problems.append("the spec does not survive its own JSON")
    verification = verify(spec)
    if case.structured and not verification.hard_checks_passed:
        problems.append(f"the spec fails the rubric's hard checks: {_hard(verification)}")
    return problems


def check_verifier(verifier: SpecVerifier, case: VerifyCase) -> list[str]:
    spec = case.given.spec()
    verification = verifier.verify(spec, documents=case.given.documents(spec))
    problems = []
    if verification.hard_checks_passed != case.hard_checks_pass:
        expected = "pass" if case.hard_checks_pass else "fail"
        problems.append(f"the hard checks should {expected}: {_hard(verification) or 'no hard finding'}")
    if not case.min_score <= verification.score <= case.max_score:
        problems.append(f"score {verification.score} is outside [{case.min_score}, {case.max_score}]")
    if not verification.hard_checks_passed and verification.score > HARD_CHECK_CAP:
        problems.append(f"a hard finding caps the score at {HARD_CHECK_CAP}, not {verification.score}")
    missing = case.codes - {f.code for f in verification.findings}
    if missing:
        problems.append(f"no finding {', '.join(sorted(missing))}")
    return problems


def check_optimizer(optimizer: SpecOptimizer, case: OptimizeCase) -> list[str]:
    spec = case.given.spec()
    report = optimizer.optimize(spec, gate=case.gate, max_rounds=case.max_rounds)
    refereed = verify(report.spec)
    problems = []
    if report.spec.service_name != spec.service_name:
        problems.append(f"the spec came back for {report.spec.service_name!r}")
    if report.gate != case.gate:
        problems.append(f"it reports gate {report.gate}, not {case.gate}")
    if not report.rounds or report.rounds[0].number != 0 or len(report.rounds) > case.max_rounds + 1:
        problems.append(f"{len(report.rounds)} rounds for at most {case.max_rounds} (plus round 0)")
    if report.reached_gate and not refereed.passes(case.gate):
        problems.append(
            f"it claims the gate; the rubric scores the result {refereed.score} ({_hard(refereed)})"
        )
    if case.reaches_gate and not refereed.passes(case.gate):
        problems.append(f"the result should pass gate {case.gate}: {refereed.score} ({_hard(refereed)})")
    dropped = {c.id for c in spec.acceptance_criteria} - {c.id for c in report.spec.acceptance_criteria}
    if dropped:
        problems.append(f"acceptance criteria dropped: {', '.join(sorted(dropped))}")
    if case.unchanged and report.spec != spec:
        problems.append("a spec that passes came back changed")
    return problems


def check_generator(
    generator: CodeGenerator, case: IntentCase, *, workdir: Path, sandbox_for: Callable[[Path], Sandbox]
) -> list[str]:
    """Generate into `workdir/<service>` and run its tests in the line's sandbox (`sandbox_for`)."""
    spec = build_offline(case.intent(), blueprint=BLUEPRINT, intent_path=case.intent_path)
    directory = workdir / spec.service_name
    report = generator.generate(
        spec, directory, sandbox=_Lazy(directory, sandbox_for), intent_path=case.intent_path
    )
    written = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    problems = []
    missing = SERVICE_FILES - written
    if missing:
        problems.append(f"files missing: {', '.join(sorted(missing))}")
    if not any(name.startswith("tests/") for name in written):
        problems.append("no tests/")
    manifest = report.service.manifest
    if (manifest.name, manifest.spec_hash) != (spec.service_name, spec.content_hash()):
        problems.append(f"the manifest is for {manifest.name} {manifest.spec_hash}, not this spec")
    if SPEC_MARKDOWN in written and (directory / SPEC_MARKDOWN).read_text(
        encoding="utf-8"
    ) != render_markdown(spec):
        problems.append("SPEC.md is not the spec it was given")
    problems.extend(_tests(report.result, spec))
    return problems


def _tests(result: SandboxResult, spec: Spec) -> list[str]:
    if not result.ok:
        return [f"its tests do not pass in the sandbox: {result.verdict.value}: {result.output[-500:]}"]
    if result.passed < len(spec.acceptance_criteria):
        return [f"{result.passed} tests pass for {len(spec.acceptance_criteria)} acceptance criteria"]
    return []


def _hard(verification: Verification) -> str:
    return "; ".join(f"{f.code} {f.subject}".strip() for f in verification.findings if f.hard)


class _Lazy:
    """The line's sandbox reads the service's requirements, which exist only once code is written."""

    def __init__(self, directory: Path, sandbox_for: Callable[[Path], Sandbox]) -> None:
        self._directory = directory
        self._sandbox_for = sandbox_for

    def run_tests(self, service_dir: Path) -> SandboxResult:
        return self._sandbox_for(self._directory).run_tests(service_dir)
