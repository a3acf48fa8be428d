"""Stage services: what the line builds for an intent that `implements` one of its own stages.

A stage service serves its stage's contract (`pipeline.factory.contracts`: the same request and answer
models the line's HTTP client sends and checks), `GET /contract`, `/health` and `/metrics`, registers with
the registry and sends heartbeats like every generated service. Its answers come from the line's own
built-in stage, shipped to it as the stage kit (`pipeline.stagekit`) and configured by its hints
(`pipeline.factory.hinted`). Its tests run the line's conformance suite for its stage against it on a
loopback port through the line's own client, and one test per acceptance criterion of its SPEC, hint
claims included (`pipeline.factory.hintchecks`); the sandbox runs them before any PR.

Its SPEC goes through the line's spec-builder, verifier and optimizer like any other: `spec_intent` gives
the builder the contract's endpoints, and `describe_stage` adds what the hints make the service do, so a
reviewer reads in the SPEC what it does differently. There is no code-generator stage service: offline a
copy of the line's templates would change nothing, and a new one needs a model to write its logic; the
intent is invalid, and an unvalidated one is refused here (`StageServiceRefused`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.codegen.generator import GeneratedService, finish_service, prepare_folder, render_templates
from pipeline.factory.hintchecks import hint_checks
from pipeline.factory.hinted import hints_digest
from pipeline.factory.stages import Stage
from pipeline.intents import HttpMethod, Intent
from pipeline.intents.stagehints import NO_CODE_GENERATOR, AnyStageHints, parse_implements
from pipeline.manifest import STAGE_FILE
from pipeline.spec.model import AcceptanceCriterion, BlueprintTrace, ErrorCase, FunctionalRequirement, Spec
from pipeline.stagekit import StageKit, stage_kit
from pipeline.wheelhouse import stage_requirements

INFO_PATH = "/contract"
BODY_LIMIT_BYTES = 1024 * 1024
"""What the line's own stage servers take (`bot.stages.app.MAX_BODY_BYTES`)."""
TEMPLATES = {
    "app/__init__.py.j2": "app/__init__.py",
    "app/__main__.py.j2": "app/__main__.py",
    "app/config.py.j2": "app/config.py",
    "app/main.py.j2": "app/main.py",
    "app/metrics.py.j2": "app/metrics.py",
    "app/registration.py.j2": "app/registration.py",
    "app/routes.py.j2": "app/routes.py",
    "app/stage.py.j2": "app/stage.py",
    "tests/conftest.py.j2": "tests/conftest.py",
    "tests/test_conformance.py.j2": "tests/test_conformance.py",
    "tests/test_acceptance.py.j2": "tests/test_acceptance.py",
    "requirements.txt.j2": "requirements.txt",
    "requirements-test.txt.j2": "requirements-test.txt",
    "Dockerfile.j2": "Dockerfile",
    "dockerignore.j2": ".dockerignore",
    "pyproject.toml.j2": "pyproject.toml",
    "README.md.j2": "README.md",
}


@dataclass(frozen=True)
class _Contract:
    """How the generated service names its stage's contract: request, answer, the line's HTTP client, the
    conformance cases and their check."""

    request: str
    answer: str
    client: str
    cases: str
    case: str
    check: str


CONTRACTS = {
    Stage.ALIGNMENT_SCORER: _Contract(
        "ScoreRequest", "ScoreAnswer", "HttpAlignmentScorer", "SCORE_CASES", "ScoreCase", "check_scorer"
    ),
    Stage.SPEC_BUILDER: _Contract(
        "BuildRequest", "BuildAnswer", "HttpSpecBuilder", "BUILD_CASES", "IntentCase", "check_builder"
    ),
    Stage.SPEC_VERIFIER: _Contract(
        "VerifyRequest", "VerifyAnswer", "HttpSpecVerifier", "VERIFY_CASES", "VerifyCase", "check_verifier"
    ),
    Stage.SPEC_OPTIMIZER: _Contract(
        "OptimizeRequest",
        "OptimizeAnswer",
        "HttpSpecOptimizer",
        "OPTIMIZE_CASES",
        "OptimizeCase",
        "check_optimizer",
    ),
}
NOT_A_STAGE_INTENT = "{name} does not say `implements:`; it is not a stage service"
CONTRACT_SUMMARY = "Answer contract {version} of the {stage} stage: a {request} in, a {answer} out."
INFO_SUMMARY = "Say which stage, contract version, stage kit and hints this service has."
CONTRACT_RESPONSE = (
    "the contract's {answer} (contract_version {version}), as the line's HTTP client checks it"
)
INFO_RESPONSE = "a JSON object: stage, contract_version, route, kit, hints and hints_digest"
SCOPE_LINE = (
    "The {stage} stage, contract {version}: the line's own implementation from its stage kit {kit}, "
    "with hints {digest} ({keys})."
)
NO_HINTS = "none: it answers as the built-in stage does"
CONTRACT_ERRORS = (
    ErrorCase(status=401, when="the request carries no bearer token, or not the line's (STAGE_TOKEN)"),
    ErrorCase(status=413, when=f"the body is larger than {BODY_LIMIT_BYTES // 1024} KiB"),
    ErrorCase(status=422, when="the body is not the contract's request"),
    ErrorCase(status=503, when="the service has no STAGE_TOKEN, or its stage cannot answer"),
)
HINT_CRITERION = (
    "the service runs with its hints",
    "a client sends a case of the hint's claim through the line's {stage} client to POST {route}",
    "every answer holds what the claim says ({key})",
)


class StageServiceRefused(ValueError):
    """The line does not build this stage service; the message says why (a code-generator)."""


@dataclass(frozen=True)
class StageService:
    """What a build of a stage intent produced beyond a service: which stage and contract it implements,
    the stage kit its requirements pin, and the digest of its hints."""

    stage: Stage
    contract_version: str
    kit_version: str
    hints_digest: str = ""

    @property
    def implements(self) -> str:
        return f"{self.stage.value}@{self.contract_version}"

    def to_json(self) -> dict[str, str]:
        return {
            "stage": self.stage.value,
            "contract_version": self.contract_version,
            "implements": self.implements,
            "kit_version": self.kit_version,
            "hints_digest": self.hints_digest,
        }


def implemented(intent: Intent) -> tuple[Stage, str] | None:
    """(stage, contract version) the intent implements, or None for an ordinary service."""
    return parse_implements(intent.implements) if intent.implements is not None else None


def refusal(intent: Intent) -> str | None:
    """Why the line will not build this stage service (None: it will)."""
    found = implemented(intent)
    if found is not None and found[0] is Stage.CODE_GENERATOR:
        return f"{intent.service_name}: {NO_CODE_GENERATOR}"
    return None


def _stage(intent: Intent) -> tuple[Stage, str]:
    found = implemented(intent)
    if found is None:
        raise ValueError(NOT_A_STAGE_INTENT.format(name=intent.service_name))
    why = refusal(intent)
    if why is not None:
        raise StageServiceRefused(why)
    return found


def spec_intent(intent: Intent) -> Intent:
    """The intent the spec-builder is given for a stage service: the same purpose and context, with the
    contract's endpoints as its endpoint hints (a builder that predates stage intents reads it too)."""
    stage, version = _stage(intent)
    contract = CONTRACTS[stage]
    summary = CONTRACT_SUMMARY.format(
        version=version, stage=stage.value, request=contract.request, answer=contract.answer
    )
    endpoints = [
        {"method": HttpMethod.POST.value, "path": stage.route, "summary": summary},
        {"method": HttpMethod.GET.value, "path": INFO_PATH, "summary": INFO_SUMMARY},
    ]
    kept = intent.model_dump(
        mode="json", exclude_defaults=True, exclude={"implements", "stage_hints", "endpoints", "resources"}
    )
    return Intent.model_validate({**kept, "endpoints": endpoints})


def describe_stage(spec: Spec, intent: Intent, *, kit: StageKit | None = None) -> Spec:
    """The builder's SPEC of a stage service, with what only the line knows: its contract endpoint's
    answers and errors, the stage kit and hints it runs, and one requirement per hint claim (each with an
    acceptance criterion on the contract endpoint, traced to the goal the builder traced the rest to)."""
    stage, version = _stage(intent)
    kit = kit or stage_kit()
    contract = CONTRACTS[stage]
    endpoints = []
    for endpoint in spec.endpoints:
        if endpoint.method is HttpMethod.POST and endpoint.path == stage.route:
            response = CONTRACT_RESPONSE.format(answer=contract.answer, version=version)
            endpoint = endpoint.model_copy(update={"response": response, "errors": list(CONTRACT_ERRORS)})
        elif endpoint.method is HttpMethod.GET and endpoint.path == INFO_PATH:
            endpoint = endpoint.model_copy(update={"response": INFO_RESPONSE})
        endpoints.append(endpoint)
    hints = intent.stage_hints
    checks = hint_checks(hints)
    keys = ", ".join(check.key for check in checks) or NO_HINTS
    digest = hints_digest(hints) if hints is not None else "-"
    scope_line = SCOPE_LINE.format(
        stage=stage.value, version=version, kit=kit.version, digest=digest, keys=keys
    )
    overview = spec.overview.model_copy(update={"scope": [*spec.overview.scope, scope_line]})
    spec = spec.model_copy(update={"endpoints": endpoints, "overview": overview, "logic": "stage"})
    contract_endpoint = next(
        (ep for ep in spec.endpoints if ep.method is HttpMethod.POST and ep.path == stage.route), None
    )
    if contract_endpoint is None:
        return spec
    for check in checks:
        spec = _with_claim(spec, check.claim, check.key, contract_endpoint.id, stage)
    return spec


def _with_claim(spec: Spec, claim: str, key: str, endpoint: str, stage: Stage) -> Spec:
    fr = _next_id("FR", [f.id for f in spec.functional_requirements])
    ac = _next_id("AC", [a.id for a in spec.acceptance_criteria])
    given, when, then = HINT_CRITERION
    criterion = AcceptanceCriterion(
        id=ac,
        requirement=fr,
        endpoint=endpoint,
        given=given,
        when=when.format(stage=stage.value, route=stage.route),
        then=then.format(key=key),
        check="custom_ok",
    )
    goals = [t.goal for t in spec.blueprint_trace if t.goal.strip()]
    trace = [*spec.blueprint_trace, *([BlueprintTrace(requirement=fr, goal=goals[0])] if goals else [])]
    return spec.model_copy(
        update={
            "functional_requirements": [
                *spec.functional_requirements,
                FunctionalRequirement(id=fr, statement=claim),
            ],
            "acceptance_criteria": [*spec.acceptance_criteria, criterion],
            "blueprint_trace": trace,
        }
    )


def _next_id(prefix: str, used: list[str]) -> str:
    numbers = [int(i.split("-")[1]) for i in used if re.fullmatch(rf"{prefix}-\d{{3}}", i)]
    return f"{prefix}-{max(numbers, default=0) + 1:03d}"


# -- the service's files ----------------------------------------------------------------------------------


def acceptance_tests(spec: Spec, stage: Stage, hints: AnyStageHints | None) -> list[dict[str, str]]:
    """One test per acceptance criterion: its name (as SPEC.md's traceability table gives it), what it
    tests and its docstring."""
    claims = {check.claim: check.key for check in hint_checks(hints)}
    statements = {fr.id: fr.statement for fr in spec.functional_requirements}
    tests = []
    for criterion in spec.acceptance_criteria:
        endpoint = spec.endpoint(criterion.endpoint)
        check = spec.check_of(criterion)
        key = claims.get(statements.get(criterion.requirement, ""), "")
        if check in {"health_ok", "metrics_ok", "registers", "registry_down"}:
            kind = check
        elif endpoint is not None and endpoint.path == INFO_PATH:
            kind = "contract_info"
        elif key:
            kind = "hint"
        else:
            kind = "contract"
        doc = f"{criterion.id} ({criterion.requirement}): given {criterion.given}, when {criterion.when}, "
        doc += f"then {criterion.then}."
        tests.append({"name": spec.test_name(criterion), "kind": kind, "key": key, "doc": _docstring(doc)})
    return tests


def _docstring(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', "'''")


def generate_stage_service(
    spec: Spec, directory: Path, *, intent: Intent, intent_path: str = "", kit: StageKit | None = None
) -> tuple[GeneratedService, StageService]:
    """Write the stage service of `intent` (whose SPEC is `spec`) into `directory`; its requirements pin
    `kit` (default: the kit of the line's sources as they are)."""
    stage, version = _stage(intent)
    kit = kit or stage_kit()
    hints = intent.stage_hints
    prepare_folder(directory)
    values = _template_values(spec, stage, version, hints, kit)
    render_templates(directory, "stage", TEMPLATES, values)
    stage_file = {
        "service_name": spec.service_name,
        "stage": stage.value,
        "contract_version": version,
        "hints": hints.model_dump(mode="json", exclude_none=True) if hints is not None else None,
        "kit": kit.version,
    }
    (directory / STAGE_FILE).write_text(json.dumps(stage_file, indent=2) + "\n", encoding="utf-8")
    service = finish_service(spec, directory, intent_path=intent_path)
    digest = hints_digest(hints) if hints is not None else ""
    return service, StageService(stage, version, kit.version, digest)


def _template_values(
    spec: Spec, stage: Stage, version: str, hints: AnyStageHints | None, kit: StageKit
) -> dict[str, Any]:
    contract = CONTRACTS[stage]
    dumped = hints.model_dump(mode="json", exclude_none=True) if hints is not None else {}
    return {
        "spec": spec,
        "spec_hash": spec.content_hash(),
        "stage": stage.value,
        "contract_version": version,
        "route": stage.route,
        "health_path": spec.deployment.health_path,
        "body_limit_bytes": BODY_LIMIT_BYTES,
        "client_class": contract.client,
        "cases": contract.cases,
        "case_class": contract.case,
        "check": contract.check,
        "acceptance": acceptance_tests(spec, stage, hints),
        "claims": [check.claim for check in hint_checks(hints)],
        "hints_json": json.dumps(dumped, indent=2),
        "kit_version": kit.version,
        "requirements": stage_requirements(kit).rstrip("\n"),
        "test_requirements": stage_requirements(kit, with_tests=True).rstrip("\n"),
    }
