"""spec-verifier: a versioned rubric scores a Spec 0-100 with findings; hard checks decide first.

Hard checks are the things code generation cannot do without (sections present, unique ids, every FR
mapped to an endpoint and a generated test through an acceptance criterion, every endpoint with its errors
and with logic something will write, every NFR with a number, no vague words). A spec failing one is
capped below any usable gate, whatever its weighted score: no offline SPEC scores 100 while an endpoint
is a placeholder.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pipeline.spec.behaviour_checks import behaviour_problems, fixing_hint
from pipeline.spec.model import (
    BEHAVIOUR_OPERATIONS,
    CHECKS,
    CHECKS_BY_OPERATION,
    CRUD_OPERATIONS,
    MAX_OPEN_QUESTIONS,
    MISSING_CHECKS,
    NEEDS_CLARIFICATION,
    OPERATIONS,
    Endpoint,
    Spec,
)

RUBRIC_VERSION = "1.1"
"""1.1: an endpoint offline generation would leave a placeholder is a hard finding, a behaviour must fit the
data model, and a criterion's check must be one its endpoint's test generator writes."""
DEFAULT_GATE = 90
HARD_CHECK_CAP = 60
"""The highest score a spec failing a hard check can get."""

# Section -> weight; they add up to 100.
WEIGHTS: dict[str, int] = {
    "overview": 8,
    "blueprint_trace": 8,
    "functional_requirements": 14,
    "endpoints": 16,
    "data_model": 8,
    "acceptance_criteria": 16,
    "non_functional": 10,
    "security": 6,
    "observability": 6,
    "deployment": 4,
    "open_questions": 4,
}
OPERATIONS_PATHS = frozenset({"/health", "/metrics"})
VAGUE_WORDS = (
    "fast",
    "quick",
    "quickly",
    "user-friendly",
    "easy",
    "easily",
    "simple",
    "intuitive",
    "robust",
    "scalable",
    "seamless",
    "seamlessly",
    "efficient",
    "efficiently",
    "better",
    "improved",
    "appropriate",
    "as needed",
    "etc",
    "flexible",
    "modern",
    "high-performance",
    "state-of-the-art",
)
_VAGUE = re.compile(r"\b(" + "|".join(re.escape(w) for w in VAGUE_WORDS) + r")\b", re.IGNORECASE)
_PATH = re.compile(r"/\S*")
"""URL paths are names, not claims: '/quick-note' is not vague."""
NOT_PROSE = frozenset(
    {
        "id",
        "name",
        "path",
        "method",
        "type",
        "resource",
        "operation",
        "check",
        "requirement",
        "endpoint",
        "category",
        "unit",
        "storage",
        "health_path",
    }
)
"""Fields holding ids, names, paths or enum values: not claims, so not checked for vague words."""
NOT_SCANNED = frozenset({"blueprint_trace", "open_questions"})
"""The trace quotes the blueprint's goals (its wording is the blueprint's, not this spec's), and an open
question is exactly where an unclear word belongs until someone answers it."""
MEASURABLE = {
    "fast": "within 200 ms at the 95th percentile",
    "quick": "within 200 ms at the 95th percentile",
    "quickly": "within 200 ms at the 95th percentile",
    "efficient": "within 200 ms at the 95th percentile",
    "efficiently": "within 200 ms at the 95th percentile",
    "high-performance": "within 200 ms at the 95th percentile",
    "robust": "available 99.5% of each month",
    "user-friendly": "with documented request and error schemas",
    "easy": "with documented request and error schemas",
    "easily": "with documented request and error schemas",
    "intuitive": "with documented request and error schemas",
}
"""Vague words with a measurable stand-in tied to the spec's own NFR numbers (see `repairs`)."""
REWORDED_BY_REPAIR = frozenset({"functional_requirements", "non_functional"})
"""Where the optimizer puts those stand-ins. A goal, scope or security line is prose whose meaning only a
person (or a model) can restate: a stand-in there would invent what the author meant."""
NO_REPAIR = "reword it (or move the claim into a non-functional requirement with a number)"
UNCOVERED = "has no acceptance criterion: no endpoint is named for it and no generated test verifies it"
PLACEHOLDER = (
    "{where}: no hint says what it returns; offline it would be a placeholder. Give it {hint} in the "
    "intent, or build with a model (ANTHROPIC_API_KEY), which writes the logic its tests then prove"
)
_ID_PATTERNS = {"FR": r"FR-\d{3}", "EP": r"EP-\d{3}", "AC": r"AC-\d{3}", "NFR": r"NFR-\d{3}"}


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


PENALTY = {Severity.ERROR: 0.5, Severity.WARNING: 0.25, Severity.INFO: 0.1}


@dataclass(frozen=True)
class Finding:
    section: str
    severity: Severity
    message: str
    code: str
    hard: bool = False
    subject: str = ""
    """The id (FR-001, EP-002, ...) or field the finding is about, for the optimizer."""

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "severity": self.severity.value,
            "code": self.code,
            "hard": self.hard,
            "subject": self.subject,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verification:
    score: int
    findings: tuple[Finding, ...]
    section_scores: dict[str, float]
    rubric_version: str = RUBRIC_VERSION

    @property
    def hard_checks_passed(self) -> bool:
        return not any(f.hard for f in self.findings)

    def passes(self, gate: int = DEFAULT_GATE) -> bool:
        return self.hard_checks_passed and self.score >= gate

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "rubric_version": self.rubric_version,
            "hard_checks_passed": self.hard_checks_passed,
            "section_scores": self.section_scores,
            "findings": [f.to_json() for f in self.findings],
        }


def verify(
    spec: Spec, *, extra: tuple[Finding, ...] = (), documents: tuple[Finding, ...] = ()
) -> Verification:
    """Score `spec` with rubric RUBRIC_VERSION. Deterministic: the same spec always gets the same score.

    `extra` findings (a model judge's, see `pipeline.spec.judge`) are soft: they can only lower the score.
    `documents` are findings about the files the spec was read from (a stale SPEC.md); hard ones count.
    """
    judged = (f for f in extra if not f.hard)
    findings = [*_hard_checks(spec), *documents, *_soft_checks(spec), *judged]
    sections: dict[str, float] = {}
    for section, weight in WEIGHTS.items():
        penalty = sum(PENALTY[f.severity] for f in findings if f.section == section)
        sections[section] = round(weight * max(0.0, 1.0 - penalty), 2)
    score = round(sum(sections.values()))
    if any(f.hard for f in findings):
        score = min(score, HARD_CHECK_CAP)
    return Verification(score=score, findings=tuple(findings), section_scores=sections)


def stale_markdown(spec: Spec, markdown: str, rendered: str) -> tuple[Finding, ...]:
    """A finding when SPEC.md is not what spec.json renders (edited by hand, or left from an older spec)."""
    if markdown == rendered:
        return ()
    message = (
        "SPEC.md is not what spec.json renders: it was edited by hand or is stale. spec.json is what code "
        "is generated from; change that and regenerate SPEC.md (intentops spec)"
    )
    return (_hard("overview", "spec-md-stale", message, "SPEC.md"),)


# -- hard checks ------------------------------------------------------------------------------------------


def _hard(section: str, code: str, message: str, subject: str = "") -> Finding:
    return Finding(section, Severity.ERROR, message, code, hard=True, subject=subject)


def _hard_checks(spec: Spec) -> list[Finding]:
    return [
        *_required_sections(spec),
        *_unique_ids(spec),
        *_coverage(spec),
        *_endpoint_errors(spec),
        *_duplicate_routes(spec),
        *_nfr_numbers(spec),
        *_vague_words(spec),
        *_generatable_endpoints(spec),
        *_generatable_criteria(spec),
        *_traced(spec),
        *_question_count(spec),
    ]


def _required_sections(spec: Spec) -> list[Finding]:
    missing = {
        "overview": not spec.overview.goal.strip(),
        "functional_requirements": not spec.functional_requirements,
        "endpoints": not spec.endpoints,
        "acceptance_criteria": not spec.acceptance_criteria,
        "non_functional": not spec.non_functional,
        "security": not spec.security,
        "observability": not spec.observability,
        # A spec.json without it would silently get the defaults (port, health path, resources).
        "deployment": "deployment" not in spec.model_fields_set,
    }
    found = [
        _hard(s, "section-missing", f"the {s.replace('_', ' ')} section is empty")
        for s, m in missing.items()
        if m
    ]
    if spec.endpoints and all(ep.path in OPERATIONS_PATHS for ep in spec.endpoints):
        found.append(
            _hard(
                "endpoints",
                "no-service-endpoint",
                "no endpoint serves the purpose (only /health and /metrics)",
            )
        )
    return found


def _unique_ids(spec: Spec) -> list[Finding]:
    groups = {
        ("functional_requirements", "FR"): [fr.id for fr in spec.functional_requirements],
        ("endpoints", "EP"): [ep.id for ep in spec.endpoints],
        ("acceptance_criteria", "AC"): [ac.id for ac in spec.acceptance_criteria],
        ("non_functional", "NFR"): [n.id for n in spec.non_functional],
    }
    found = []
    for (section, prefix), ids in groups.items():
        for ident, count in Counter(ids).items():
            if count > 1:
                found.append(_hard(section, "duplicate-id", f"{ident} is used {count} times", ident))
        for ident in ids:
            if not re.fullmatch(_ID_PATTERNS[prefix], ident):
                found.append(_hard(section, "bad-id", f"'{ident}' is not of the form {prefix}-001", ident))
    return found


def _coverage(spec: Spec) -> list[Finding]:
    covered = {ac.requirement for ac in spec.acceptance_criteria}
    found = [
        _hard("acceptance_criteria", "fr-uncovered", f"{fr.id} {UNCOVERED}", fr.id)
        for fr in spec.functional_requirements
        if fr.id not in covered
    ]
    frs = {fr.id for fr in spec.functional_requirements}
    endpoints = {ep.id for ep in spec.endpoints}
    for ac in spec.acceptance_criteria:
        if ac.requirement not in frs:
            found.append(
                _hard(
                    "acceptance_criteria", "ac-unknown-fr", f"{ac.id} names unknown {ac.requirement}", ac.id
                )
            )
        if ac.endpoint not in endpoints:
            found.append(
                _hard(
                    "acceptance_criteria",
                    "ac-unknown-endpoint",
                    f"{ac.id} names unknown {ac.endpoint}",
                    ac.id,
                )
            )
    return found


def _duplicate_routes(spec: Spec) -> list[Finding]:
    seen: dict[tuple[str, str], str] = {}
    found = []
    for ep in spec.endpoints:
        route = (ep.method.value, re.sub(r"\{[^}]*\}", "{}", ep.path))
        if route in seen:
            message = f"{ep.id} {ep.method.value} {ep.path} is the same route as {seen[route]}"
            found.append(_hard("endpoints", "duplicate-route", message, ep.id))
        seen.setdefault(route, ep.id)
    return found


def _endpoint_errors(spec: Spec) -> list[Finding]:
    return [
        _hard(
            "endpoints",
            "endpoint-no-errors",
            f"{ep.id} {ep.method.value} {ep.path} lists no error cases",
            ep.id,
        )
        for ep in spec.endpoints
        if not ep.errors
    ]


def _nfr_numbers(spec: Spec) -> list[Finding]:
    return [
        _hard("non_functional", "nfr-no-number", f"{n.id} has no measurable target", n.id)
        for n in spec.non_functional
        if n.target is None or not re.search(r"\d", n.statement)
    ]


def _generatable_endpoints(spec: Spec) -> list[Finding]:
    """What code generation needs of each endpoint: a known operation, its resource, its id parameter, a
    behaviour that fits the data model, and logic something will write."""
    found = []
    for ep in spec.endpoints:
        found += _generatable(spec, ep)
    found += [
        _hard("data_model", "entity-no-fields", f"entity '{e.name}' has no fields", e.name)
        for e in spec.data_model.entities
        if not e.fields
    ]
    if spec.deployment.health_path not in {ep.path for ep in spec.endpoints}:
        message = f"no endpoint serves the health path {spec.deployment.health_path}"
        found.append(_hard("deployment", "no-health-endpoint", message))
    return found


def _generatable(spec: Spec, ep: Endpoint) -> list[Finding]:
    where = f"{ep.id} {ep.method.value} {ep.path}"
    if ep.operation not in OPERATIONS:
        known = ", ".join(sorted(OPERATIONS))
        message = f"{where}: unknown operation '{ep.operation}' (one of {known})"
        return [_hard("endpoints", "unknown-operation", message, ep.id)]
    if ep.operation == "custom" and spec.logic == "templates":
        message = PLACEHOLDER.format(where=where, hint=fixing_hint(ep.method.value, ep.path))
        return [_hard("endpoints", "placeholder-endpoint", message, ep.id)]
    needs_resource = ep.operation in CRUD_OPERATIONS or (
        ep.operation in BEHAVIOUR_OPERATIONS and ep.operation != "static"
    )
    if needs_resource and (ep.resource is None or spec.entity(ep.resource) is None):
        what = f"'{ep.resource}', which the data model does not declare" if ep.resource else "no resource"
        message = f"{where}: '{ep.operation}' needs a resource of the data model; it names {what}"
        return [_hard("data_model", "unknown-resource", message, ep.id)]
    if ep.operation in {"get", "update", "delete"} and "{" not in ep.path:
        message = f"{where}: '{ep.operation}' needs an id parameter in its path"
        return [_hard("endpoints", "no-id-parameter", message, ep.id)]
    if ep.operation in BEHAVIOUR_OPERATIONS:
        return [
            _hard("endpoints", "behaviour-mismatch", f"{where}: {problem}", ep.id)
            for problem in behaviour_problems(spec, ep)
        ]
    return []


def _generatable_criteria(spec: Spec) -> list[Finding]:
    """Every criterion must become a test: a known scenario, and a way to create what it reads."""
    endpoints = {ep.id: ep for ep in spec.endpoints}
    found = []
    for ac in spec.acceptance_criteria:
        endpoint = endpoints.get(ac.endpoint)
        if ac.check and ac.check not in CHECKS:
            message = f"{ac.id}: unknown check '{ac.check}' (leave it empty or use a known scenario)"
            found.append(_hard("acceptance_criteria", "unknown-check", message, ac.id))
        elif endpoint is not None and spec.check_of(ac) not in CHECKS_BY_OPERATION.get(
            endpoint.operation, ()
        ):
            allowed = ", ".join(sorted(CHECKS_BY_OPERATION.get(endpoint.operation, ())))
            message = (
                f"{ac.id}: the check '{spec.check_of(ac)}' cannot test {endpoint.id} (a "
                f"'{endpoint.operation}' endpoint: {allowed or 'none'}), so no generated test would verify "
                f"{ac.requirement}"
            )
            found.append(_hard("acceptance_criteria", "check-mismatch", message, ac.id))
        if endpoint is not None and _needs_create(spec, endpoint, ac.check):
            message = (
                f"{ac.id}: its endpoint {endpoint.id} works on '{endpoint.resource}', "
                "which has no create endpoint to make one with"
            )
            found.append(_hard("acceptance_criteria", "no-create-endpoint", message, ac.id))
    return found


def _needs_create(spec: Spec, endpoint: Endpoint, check: str) -> bool:
    if not endpoint.resource or spec.entity(endpoint.resource) is None or check in MISSING_CHECKS:
        return False
    return not any(ep.resource == endpoint.resource and ep.operation == "create" for ep in spec.endpoints)


def _traced(spec: Spec) -> list[Finding]:
    """Every requirement names the blueprint goal it serves, and every trace names a requirement."""
    traced = {t.requirement for t in spec.blueprint_trace if t.goal.strip()}
    frs = {fr.id for fr in spec.functional_requirements}
    found = [
        _hard("blueprint_trace", "fr-not-traced", f"{fr.id} is missing from the blueprint trace", fr.id)
        for fr in spec.functional_requirements
        if fr.id not in traced
    ]
    found += [
        _hard(
            "blueprint_trace", "trace-unknown-fr", f"the trace names unknown {t.requirement}", t.requirement
        )
        for t in spec.blueprint_trace
        if t.requirement not in frs
    ]
    return found


def _question_count(spec: Spec) -> list[Finding]:
    count = len(spec.open_questions)
    if count <= MAX_OPEN_QUESTIONS:
        return []
    message = f"{count} open questions; at most {MAX_OPEN_QUESTIONS}"
    return [_hard("open_questions", "too-many-questions", message)]


def _vague_words(spec: Spec) -> list[Finding]:
    found = []
    for section, subject, sentence in _sentences(spec):
        words = dict.fromkeys(m.group(1).lower() for m in _VAGUE.finditer(_PATH.sub(" ", sentence)))
        for word in words:
            repairable = section in REWORDED_BY_REPAIR and word in MEASURABLE
            hint = "" if repairable else f"; {NO_REPAIR}"
            found.append(
                _hard(section, "vague-word", f"{subject}: '{word}' is not measurable{hint}", subject)
            )
    return found


def _sentences(spec: Spec) -> list[tuple[str, str, str]]:
    """(section, subject, text) for every prose field of the spec, section by section."""
    rows: list[tuple[str, str, str]] = []
    for section, value in spec.to_json().items():
        if section in WEIGHTS and section not in NOT_SCANNED:
            rows += _prose(section, section, value)
    return rows


def _prose(section: str, where: str, value: object) -> list[tuple[str, str, str]]:
    if isinstance(value, str):
        return [(section, where, value)] if value.strip() else []
    if isinstance(value, list):
        return [row for i, item in enumerate(value) for row in _prose(section, f"{where}[{i + 1}]", item)]
    if not isinstance(value, dict):
        return []
    owner = value.get("id") if isinstance(value.get("id"), str) else None
    rows = []
    for key, item in value.items():
        if key not in NOT_PROSE:
            rows += _prose(section, owner or f"{where}.{key}", item)
    return rows


# -- weighted (soft) checks ------------------------------------------------------------------------------


def _soft(section: str, severity: Severity, code: str, message: str, subject: str = "") -> Finding:
    return Finding(section, severity, message, code, subject=subject)


def _soft_checks(spec: Spec) -> list[Finding]:
    return [
        *_overview(spec),
        *_trace(spec),
        *_requirements(spec),
        *_data_model(spec),
        *_criteria(spec),
        *_operations(spec),
        *_questions(spec),
    ]


def _overview(spec: Spec) -> list[Finding]:
    found = []
    if not spec.overview.scope:
        found.append(_soft("overview", Severity.WARNING, "no-scope", "the scope lists nothing"))
    if not spec.overview.out_of_scope:
        found.append(
            _soft("overview", Severity.WARNING, "no-out-of-scope", "nothing is declared out of scope")
        )
    return found


def _trace(spec: Spec) -> list[Finding]:
    placeholder = {t.requirement for t in spec.blueprint_trace if t.goal.startswith("(")}
    found = [
        _soft("blueprint_trace", Severity.WARNING, "fr-untraced", f"{fr.id} serves no blueprint goal", fr.id)
        for fr in spec.functional_requirements
        if fr.id in placeholder
    ]
    return found[:2]


def _requirements(spec: Spec) -> list[Finding]:
    return [
        _soft(
            "functional_requirements",
            Severity.WARNING,
            "fr-not-must",
            f"{fr.id} is not a MUST statement",
            fr.id,
        )
        for fr in spec.functional_requirements
        if "MUST" not in fr.statement
    ][:2]


def _data_model(spec: Spec) -> list[Finding]:
    found = []
    if not spec.data_model.entities:
        found.append(_soft("data_model", Severity.ERROR, "no-entities", "the data model has no entities"))
    return found


def _criteria(spec: Spec) -> list[Finding]:
    found = [
        _soft(
            "acceptance_criteria",
            Severity.WARNING,
            "ac-incomplete",
            f"{ac.id} lacks a Given, When or Then",
            ac.id,
        )
        for ac in spec.acceptance_criteria
        if not (ac.given.strip() and ac.when.strip() and ac.then.strip())
    ]
    exercised = {ac.endpoint for ac in spec.acceptance_criteria}
    found += [
        _soft(
            "endpoints", Severity.WARNING, "endpoint-untested", f"{ep.id} is exercised by no criterion", ep.id
        )
        for ep in spec.endpoints
        if ep.id not in exercised
    ]
    return found[:4]


def _operations(spec: Spec) -> list[Finding]:
    found = []
    if not any("metric" in line.lower() for line in spec.observability):
        found.append(_soft("observability", Severity.WARNING, "no-metrics", "observability names no metrics"))
    if not any(c.value == "latency" for c in {n.category for n in spec.non_functional}):
        found.append(_soft("non_functional", Severity.WARNING, "no-latency", "no latency target"))
    return found


def _questions(spec: Spec) -> list[Finding]:
    found = []
    for question in spec.open_questions:
        if NEEDS_CLARIFICATION in question:
            found.append(_soft("open_questions", Severity.WARNING, "needs-clarification", question))
        else:
            found.append(
                _soft(
                    "open_questions",
                    Severity.INFO,
                    "unmarked-question",
                    f"not marked {NEEDS_CLARIFICATION}: {question}",
                )
            )
    return found
