"""Deterministic repairs for verifier findings: each fixes one kind of finding, or leaves it honestly open.

A repair never invents behaviour the intent did not ask for: it adds what follows from what the spec
already says (an error case every endpoint has, a criterion for an endpoint a requirement names).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.intents import HttpMethod
from pipeline.spec.model import (
    MAX_OPEN_QUESTIONS,
    NEEDS_CLARIFICATION,
    AcceptanceCriterion,
    BlueprintTrace,
    Endpoint,
    ErrorCase,
    NfrCategory,
    Spec,
)
from pipeline.spec.text import OUT_OF_SCOPE
from pipeline.spec.verifier import MEASURABLE, Finding

_MEASURABLE_WORDS = re.compile(
    r"(/\S*)|\b(" + "|".join(re.escape(w) for w in MEASURABLE) + r")\b", re.IGNORECASE
)
DEFAULT_TARGETS = {
    NfrCategory.LATENCY: (200.0, "ms"),
    NfrCategory.AVAILABILITY: (99.5, "%"),
    NfrCategory.LIMITS: (64.0, "KiB"),
    NfrCategory.THROUGHPUT: (50.0, "requests per second"),
}

Repair = Callable[[Spec, Finding], Spec | None]


def apply_repairs(spec: Spec, findings: tuple[Finding, ...]) -> tuple[Spec, list[str]]:
    """Apply every repair that applies; return the new spec and a line per repair made."""
    done: list[str] = []
    for finding in findings:
        repair = REPAIRS.get(finding.code)
        fixed = repair(spec, finding) if repair else None
        if fixed is not None and fixed != spec:
            spec = fixed
            done.append(f"{finding.code} {finding.subject}".strip())
    return spec, done


def _endpoint_errors(spec: Spec, finding: Finding) -> Spec | None:
    endpoints = [
        _with_errors(ep) if ep.id == finding.subject and not ep.errors else ep for ep in spec.endpoints
    ]
    return spec.model_copy(update={"endpoints": endpoints})


def _with_errors(ep: Endpoint) -> Endpoint:
    errors = [ErrorCase(status=405, when=f"the method is not {ep.method.value}")]
    if "{" in ep.path:
        errors.append(ErrorCase(status=404, when="nothing matches the path parameters"))
    if ep.request or ep.method in {HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH}:
        errors.append(ErrorCase(status=422, when="the body does not match the request schema"))
    return ep.model_copy(update={"errors": errors})


def _nfr_number(spec: Spec, finding: Finding) -> Spec | None:
    items = []
    for nfr in spec.non_functional:
        if nfr.id == finding.subject:
            target, unit = (nfr.target, nfr.unit) if nfr.target is not None else DEFAULT_TARGETS[nfr.category]
            statement = nfr.statement.rstrip(".") + f" (target: {target:g} {unit})."
            nfr = nfr.model_copy(update={"target": target, "unit": unit, "statement": statement})
        items.append(nfr)
    return spec.model_copy(update={"non_functional": items})


def _vague(spec: Spec, finding: Finding) -> Spec | None:
    def fix(sentence: str) -> str:
        # Paths are left alone: '/quick-note' is a name.
        return _MEASURABLE_WORDS.sub(lambda m: m[0] if m[1] else MEASURABLE[m[2].lower()], sentence)

    frs = [fr.model_copy(update={"statement": fix(fr.statement)}) for fr in spec.functional_requirements]
    nfrs = [n.model_copy(update={"statement": fix(n.statement)}) for n in spec.non_functional]
    return spec.model_copy(update={"functional_requirements": frs, "non_functional": nfrs})


def _uncovered(spec: Spec, finding: Finding) -> Spec | None:
    fr = next((f for f in spec.functional_requirements if f.id == finding.subject), None)
    endpoint = next(
        (ep for ep in spec.endpoints if fr and f"{ep.method.value} {ep.path}" in fr.statement), None
    )
    if fr is None or endpoint is None:
        return None  # nothing in the spec says how to test it: a person (or a model) must
    return _add_criterion(spec, fr.id, endpoint)


def _untested(spec: Spec, finding: Finding) -> Spec | None:
    endpoint = next((ep for ep in spec.endpoints if ep.id == finding.subject), None)
    fr = next(
        (
            f
            for f in spec.functional_requirements
            if endpoint and f"{endpoint.method.value} {endpoint.path}" in f.statement
        ),
        None,
    )
    if endpoint is None or fr is None:
        return None
    return _add_criterion(spec, fr.id, endpoint)


def _add_criterion(spec: Spec, requirement: str, endpoint: Endpoint) -> Spec:
    ident = _next_id("AC", [ac.id for ac in spec.acceptance_criteria])
    criterion = AcceptanceCriterion(
        id=ident,
        requirement=requirement,
        endpoint=endpoint.id,
        given="the service is running",
        when=f"a client sends {endpoint.method.value} {endpoint.path}",
        then=f"it answers {endpoint.success_status}",
        check="",  # the endpoint operation's own scenario
    )
    return spec.model_copy(update={"acceptance_criteria": [*spec.acceptance_criteria, criterion]})


def _renumber(spec: Spec, finding: Finding) -> Spec | None:
    section = finding.section
    items = list(getattr(spec, section))
    prefix = {"functional_requirements": "FR", "endpoints": "EP", "acceptance_criteria": "AC"}.get(
        section, "NFR"
    )
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen or not re.fullmatch(rf"{prefix}-\d{{3}}", item.id):
            items[index] = item.model_copy(update={"id": _free_id(prefix, [i.id for i in items])})
        seen.add(items[index].id)
    return spec.model_copy(update={section: items})


def _next_id(prefix: str, used: list[str]) -> str:
    numbers = [int(i.split("-")[1]) for i in used if re.fullmatch(rf"{prefix}-\d{{3}}", i)]
    return f"{prefix}-{max(numbers, default=0) + 1:03d}"


def _free_id(prefix: str, used: list[str]) -> str:
    """The lowest unused number: a duplicate most often stands where a gap was left."""
    taken = set(used)
    number = 1
    while f"{prefix}-{number:03d}" in taken:
        number += 1
    return f"{prefix}-{number:03d}"


def _questions(spec: Spec, finding: Finding) -> Spec | None:
    marked = [q if NEEDS_CLARIFICATION in q else f"{NEEDS_CLARIFICATION} {q}" for q in spec.open_questions]
    return spec.model_copy(update={"open_questions": marked[:MAX_OPEN_QUESTIONS]})


def _must(spec: Spec, finding: Finding) -> Spec | None:
    frs = []
    for fr in spec.functional_requirements:
        if fr.id == finding.subject and "MUST" not in fr.statement:
            text = fr.statement.strip()
            fr = fr.model_copy(update={"statement": f"The service MUST {text[:1].lower()}{text[1:]}"})
        frs.append(fr)
    return spec.model_copy(update={"functional_requirements": frs})


def _out_of_scope(spec: Spec, finding: Finding) -> Spec | None:
    overview = spec.overview.model_copy(update={"out_of_scope": list(OUT_OF_SCOPE)})
    return spec.model_copy(update={"overview": overview})


def _incomplete(spec: Spec, finding: Finding) -> Spec | None:
    endpoints = {ep.id: ep for ep in spec.endpoints}
    items = []
    for ac in spec.acceptance_criteria:
        ep = endpoints.get(ac.endpoint)
        if ac.id == finding.subject and ep is not None:
            ac = ac.model_copy(
                update={
                    "given": ac.given.strip() or "the service is running",
                    "when": ac.when.strip() or f"a client sends {ep.method.value} {ep.path}",
                    "then": ac.then.strip() or f"it answers {ep.success_status}",
                }
            )
        items.append(ac)
    return spec.model_copy(update={"acceptance_criteria": items})


def _trace(spec: Spec, finding: Finding) -> Spec | None:
    """A requirement left out of the trace serves the service's goal when every other one serves the same."""
    goals = {t.goal for t in spec.blueprint_trace if t.goal.strip()}
    if len(goals) != 1:
        return None  # several goals (or none): which one this requirement serves is a person's call
    kept = [t for t in spec.blueprint_trace if t.requirement != finding.subject]
    trace = [*kept, BlueprintTrace(requirement=finding.subject, goal=goals.pop())]
    return spec.model_copy(update={"blueprint_trace": trace})


def _unknown_trace(spec: Spec, finding: Finding) -> Spec | None:
    frs = {fr.id for fr in spec.functional_requirements}
    trace = [t for t in spec.blueprint_trace if t.requirement in frs]
    return spec.model_copy(update={"blueprint_trace": trace})


REPAIRS: dict[str, Repair] = {
    "fr-not-traced": _trace,
    "trace-unknown-fr": _unknown_trace,
    "endpoint-no-errors": _endpoint_errors,
    "nfr-no-number": _nfr_number,
    "vague-word": _vague,
    "fr-uncovered": _uncovered,
    "endpoint-untested": _untested,
    "duplicate-id": _renumber,
    "bad-id": _renumber,
    "too-many-questions": _questions,
    "unmarked-question": _questions,
    "fr-not-must": _must,
    "no-out-of-scope": _out_of_scope,
    "ac-incomplete": _incomplete,
}
