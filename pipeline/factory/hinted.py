"""The built-in stages as a stage service runs them: the line's own implementation, changed only where the
stage's hints say (`pipeline.intents.stagehints`).

Each hinted stage wraps the built-in one and changes its result in the open: the builder rewrites the
sections, numbers and wording its hints name; the verifier re-scores the built-in rubric's findings with
its weights and word lists (and says so in its rubric version); the optimizer runs the built-in repairs in
its order, leaving out the ones it skips; the scorer is the lexical scorer with more words. Hints apply to
the deterministic (offline) stages: with a model, the builder's and the verifier's hints still apply to
what the model's stage returns, the optimizer's repairs run without the model's rewrite, and a Claude
scorer takes no vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from pipeline.factory.interfaces import (
    AlignmentScorer,
    FactoryStages,
    SpecBuilder,
    SpecOptimizer,
    SpecVerifier,
)
from pipeline.governance import vocabulary
from pipeline.governance.alignment import (
    CONCEPTS,
    GENERIC_CONCEPTS,
    LEXICAL_RATIONALE,
    Alignment,
    AlignmentMethod,
    BlueprintTerms,
    Evidence,
    LexicalScorer,
    stem,
    words,
)
from pipeline.governance.learned import LearnedModel, LearnedScorer
from pipeline.intents import Intent
from pipeline.intents.stagehints import (
    AlignmentScorerHints,
    AnyStageHints,
    CriterionPattern,
    NonFunctionalDefaults,
    SpecBuilderHints,
    SpecOptimizerHints,
    SpecVerifierHints,
    fill,
)
from pipeline.spec.model import AcceptanceCriterion, NfrCategory, NonFunctional, Spec
from pipeline.spec.optimizer import OptimizationReport, Round
from pipeline.spec.repairs import apply_repairs
from pipeline.spec.verifier import (
    HARD_CHECK_CAP,
    MEASURABLE,
    NO_REPAIR,
    NOT_PROSE,
    NOT_SCANNED,
    PENALTY,
    REWORDED_BY_REPAIR,
    RUBRIC_VERSION,
    VAGUE_WORDS,
    WEIGHTS,
    Finding,
    Severity,
    Verification,
    verify,
)

LATENCY = "{percentile:g}% of requests MUST complete within {ms:g} ms at up to {rps:g} requests per second."
AVAILABILITY = "The service MUST be available {percent:g}% of each calendar month."
BUILTIN_LATENCY = {"percentile": 95, "ms": 200, "rps": 50}
"""The built-in builder's numbers (`pipeline.spec.text.NFR_LATENCY`): what a hint leaves unsaid keeps."""
BUILTIN_AVAILABILITY = 99.5
VAGUE_FINDING = "{subject}: '{word}' is not measurable{hint}"
OUT_OF_SCOPE_HEADING = re.compile(r"out of scope|non-goals|not in scope", re.IGNORECASE)
"""As `pipeline.governance.alignment` reads a blueprint's headings."""
_PATH = re.compile(r"(/\S*)")
"""URL paths are names, not prose: '/quick-note' keeps its words."""


def hints_digest(hints: AnyStageHints) -> str:
    """A short, stable hash of a stage's hints (in rubric versions and the service's /contract)."""
    canonical = json.dumps(hints.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


# -- prose: the text a SPEC says, where a person reads it -------------------------------------------------


def _map_prose(value: Any, change: Callable[[str], str], *, key: str = "") -> Any:
    """`value` with `change` applied to every prose string (not ids, names, paths or enum values)."""
    if isinstance(value, str):
        return value if key in NOT_PROSE else change(value)
    if isinstance(value, list):
        return [_map_prose(item, change, key=key) for item in value]
    if isinstance(value, dict):
        return {k: _map_prose(v, change, key=k) for k, v in value.items()}
    return value


def _outside_paths(sentence: str, change: Callable[[str], str]) -> str:
    return "".join(part if _PATH.fullmatch(part) else change(part) for part in _PATH.split(sentence))


def prose(spec: Spec) -> Iterable[tuple[str, str, str]]:
    """(section, subject, text) for every prose field the rubric scans, as `pipeline.spec.verifier` walks it:
    the subject is the id of the item holding the text (FR-001, EP-002) or the field's path."""
    for section, value in spec.to_json().items():
        if section in WEIGHTS and section not in NOT_SCANNED:
            yield from _walk(section, section, value)


def _walk(section: str, where: str, value: object) -> Iterable[tuple[str, str, str]]:
    if isinstance(value, str):
        if value.strip():
            yield section, where, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(section, f"{where}[{index + 1}]", item)
    elif isinstance(value, dict):
        owner = value.get("id") if isinstance(value.get("id"), str) else None
        for key, item in value.items():
            if key not in NOT_PROSE:
                yield from _walk(section, owner or f"{where}.{key}", item)


# -- spec-builder -----------------------------------------------------------------------------------------


def apply_builder_hints(spec: Spec, hints: SpecBuilderHints) -> Spec:
    """The built-in builder's `spec`, with the sections, numbers, criteria and wording its hints give."""
    values = {"service_name": spec.service_name, "title": spec.title}
    sections = hints.sections
    if sections is not None:
        overview = spec.overview
        if sections.out_of_scope is not None:
            overview = overview.model_copy(update={"out_of_scope": _filled(sections.out_of_scope, values)})
        update: dict[str, Any] = {"overview": overview}
        if sections.security is not None:
            update["security"] = _filled(sections.security, values)
        if sections.observability is not None:
            update["observability"] = _filled(sections.observability, values)
        spec = spec.model_copy(update=update)
    if hints.non_functional is not None:
        spec = spec.model_copy(update={"non_functional": _numbers(spec, hints.non_functional)})
    if hints.acceptance_criteria:
        criteria = [_worded(spec, ac, hints.acceptance_criteria) for ac in spec.acceptance_criteria]
        spec = spec.model_copy(update={"acceptance_criteria": criteria})
    if hints.wording:
        spec = _reworded(spec, hints.wording)
    return spec


def _filled(lines: list[str], values: dict[str, str]) -> list[str]:
    return [fill(line, values) for line in lines]


def _numbers(spec: Spec, numbers: NonFunctionalDefaults) -> list[NonFunctional]:
    latency = {
        "percentile": numbers.latency_percentile or BUILTIN_LATENCY["percentile"],
        "ms": numbers.latency_ms or BUILTIN_LATENCY["ms"],
        "rps": numbers.throughput_rps or BUILTIN_LATENCY["rps"],
    }
    percent = numbers.availability_percent or BUILTIN_AVAILABILITY
    wanted = {
        NfrCategory.LATENCY: (LATENCY.format(**latency), float(latency["ms"]), "ms"),
        NfrCategory.AVAILABILITY: (AVAILABILITY.format(percent=percent), float(percent), "%"),
    }
    if numbers.latency_ms is None and numbers.latency_percentile is None and numbers.throughput_rps is None:
        del wanted[NfrCategory.LATENCY]
    if numbers.availability_percent is None:
        del wanted[NfrCategory.AVAILABILITY]
    items = []
    for nfr in spec.non_functional:
        if nfr.category in wanted:
            statement, target, unit = wanted.pop(nfr.category)
            nfr = nfr.model_copy(update={"statement": statement, "target": target, "unit": unit})
        items.append(nfr)
    used = [n.id for n in items]
    for category, (statement, target, unit) in wanted.items():  # a category the built-in spec lacks
        ident = _next_id("NFR", used)
        used.append(ident)
        items.append(
            NonFunctional(id=ident, category=category, statement=statement, target=target, unit=unit)
        )
    return items


def _next_id(prefix: str, used: list[str]) -> str:
    numbers = [int(i.split("-")[1]) for i in used if re.fullmatch(rf"{prefix}-\d{{3}}", i)]
    return f"{prefix}-{max(numbers, default=0) + 1:03d}"


def _worded(
    spec: Spec, criterion: AcceptanceCriterion, patterns: dict[str, CriterionPattern]
) -> AcceptanceCriterion:
    pattern = patterns.get(criterion.check)
    endpoint = next((ep for ep in spec.endpoints if ep.id == criterion.endpoint), None)
    if pattern is None or endpoint is None:
        return criterion
    values = {
        "service_name": spec.service_name,
        "title": spec.title,
        "resource": endpoint.resource or spec.service_name,
        "method": endpoint.method.value,
        "path": endpoint.path,
        "status": str(endpoint.success_status),
    }
    update = {
        part: fill(text, values)
        for part, text in (("given", pattern.given), ("when", pattern.when), ("then", pattern.then))
        if text is not None
    }
    return criterion.model_copy(update=update)


def _reworded(spec: Spec, wording: dict[str, str]) -> Spec:
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in wording) + r")\b", re.IGNORECASE)

    def change(sentence: str) -> str:
        return _outside_paths(sentence, lambda part: pattern.sub(lambda m: wording[m[1].lower()], part))

    data = spec.to_json()
    for section in data:
        if section in WEIGHTS and section not in NOT_SCANNED:
            data[section] = _map_prose(data[section], change, key=section)
    return Spec.model_validate(data)


@dataclass(frozen=True)
class HintedSpecBuilder:
    """spec-builder: the built-in SPEC, then what the hints say (`apply_builder_hints`)."""

    base: SpecBuilder
    hints: SpecBuilderHints

    def build(self, intent: Intent, *, blueprint: str = "", intent_path: str = "") -> Spec:
        spec = self.base.build(intent, blueprint=blueprint, intent_path=intent_path)
        return apply_builder_hints(spec, self.hints)


# -- spec-verifier ----------------------------------------------------------------------------------------


def rescore(spec: Spec, verification: Verification, hints: SpecVerifierHints) -> Verification:
    """The built-in rubric's verification of `spec`, with the hints' vague words and weights."""
    findings = list(verification.findings)
    if hints.vague_words or hints.not_vague:
        vague = _vague_findings(spec, vague_words(hints))
        kept = [f for f in findings if f.code != "vague-word"]
        hard = [f for f in kept if f.hard]
        findings = [*hard, *vague, *(f for f in kept if not f.hard)]
    weights = rubric(hints)
    sections: dict[str, float] = {}
    for section, weight in weights.items():
        penalty = sum(PENALTY[f.severity] for f in findings if f.section == section)
        sections[section] = round(weight * max(0.0, 1.0 - penalty), 2)
    score = round(sum(sections.values()))
    if any(f.hard for f in findings):
        score = min(score, HARD_CHECK_CAP)
    version = f"{verification.rubric_version or RUBRIC_VERSION}+{hints_digest(hints)}"
    return Verification(
        score=score, findings=tuple(findings), section_scores=sections, rubric_version=version
    )


def vague_words(hints: SpecVerifierHints) -> tuple[str, ...]:
    """The words this verifier calls vague: the built-in ones, less `not_vague`, plus `vague_words`."""
    dropped = set(hints.not_vague or ())
    kept = [w for w in VAGUE_WORDS if w not in dropped]
    return (*kept, *(w for w in hints.vague_words or () if w not in kept))


def rubric(hints: SpecVerifierHints) -> dict[str, int]:
    return {**WEIGHTS, **(hints.weights or {})}


def _vague_findings(spec: Spec, listed: tuple[str, ...]) -> list[Finding]:
    if not listed:
        return []
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in listed) + r")\b", re.IGNORECASE)
    found = []
    for section, subject, sentence in prose(spec):
        named = dict.fromkeys(m[1].lower() for m in pattern.finditer(_PATH.sub(" ", sentence)))
        for word in named:
            repairable = section in REWORDED_BY_REPAIR and word in MEASURABLE
            hint = "" if repairable else f"; {NO_REPAIR}"
            message = VAGUE_FINDING.format(subject=subject, word=word, hint=hint)
            found.append(Finding(section, Severity.ERROR, message, "vague-word", hard=True, subject=subject))
    return found


@dataclass(frozen=True)
class HintedSpecVerifier:
    """spec-verifier: the built-in rubric's findings, re-scored with the hints (`rescore`)."""

    base: SpecVerifier
    hints: SpecVerifierHints

    def verify(self, spec: Spec, *, documents: tuple[Finding, ...] = ()) -> Verification:
        return rescore(spec, self.base.verify(spec, documents=documents), self.hints)


# -- spec-optimizer ---------------------------------------------------------------------------------------


def ordered(findings: Iterable[Finding], hints: SpecOptimizerHints) -> tuple[Finding, ...]:
    """The findings whose repairs run, in the hints' order first (the rest as the verifier listed them)."""
    skipped = set(hints.skip or ())
    order = {code: rank for rank, code in enumerate(hints.repair_order or ())}
    kept = [f for f in findings if f.code not in skipped]
    return tuple(sorted(kept, key=lambda f: order.get(f.code, len(order))))


@dataclass(frozen=True)
class HintedSpecOptimizer:
    """spec-optimizer: the built-in deterministic repairs, in the hints' order, without the skipped ones;
    rounds, the stop on no progress and the gate as the built-in optimizer has them."""

    hints: SpecOptimizerHints

    def optimize(self, spec: Spec, *, gate: int, max_rounds: int) -> OptimizationReport:
        verification = verify(spec)
        rounds = [_round(0, verification)]
        for number in range(1, max_rounds + 1):
            if verification.passes(gate):
                break
            candidate, repairs = apply_repairs(spec, ordered(verification.findings, self.hints))
            checked = verify(candidate)
            if _standing(checked) <= _standing(verification):
                rounds.append(_round(number, checked, repairs))
                break  # no progress: stop, and keep the better spec
            spec, verification = candidate, checked
            rounds.append(_round(number, verification, repairs))
        return OptimizationReport(spec=spec, verification=verification, gate=gate, rounds=tuple(rounds))


def _standing(verification: Verification) -> tuple[bool, int, int]:
    hard = sum(f.hard for f in verification.findings)
    return verification.hard_checks_passed, -hard, verification.score


def _round(number: int, verification: Verification, repairs: list[str] | None = None) -> Round:
    return Round(
        number=number,
        score=verification.score,
        hard_checks_passed=verification.hard_checks_passed,
        findings=len(verification.findings),
        repairs=tuple(repairs or ()),
    )


# -- alignment-scorer -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """The lexical scorer's concepts, with the hints' synonym groups and generic words added."""

    concepts: dict[str, frozenset[str]]
    generic_concepts: frozenset[str]
    generic_words: frozenset[str]

    @classmethod
    def of(cls, hints: AlignmentScorerHints) -> Vocabulary:
        table = {key: set(value) for key, value in CONCEPTS.items()}
        generic_words = frozenset(vocabulary.GENERIC) | frozenset(hints.generic_words or ())
        generic = set(GENERIC_CONCEPTS) | {stem(w) for w in hints.generic_words or ()}
        for group in hints.synonyms or ():
            concept = "@" + stem(group[0])
            for word in group:
                table.setdefault(stem(word), set()).add(concept)
            if any(word in generic_words for word in group):
                generic.add(concept)
        return cls({k: frozenset(v) for k, v in table.items()}, frozenset(generic), generic_words)

    def concepts_of(self, word: str) -> frozenset[str]:
        stemmed = stem(word)
        return self.concepts.get(stemmed, frozenset({stemmed}))

    def terms(self, text: str) -> set[str]:
        return {concept for word in words(text) for concept in self.concepts_of(word)}

    def spelled(self, text: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for word in words(text):
            for concept in self.concepts_of(word):
                found.setdefault(concept, word)
        return found

    def blueprint(self, blueprint: str) -> BlueprintTerms:
        """`BlueprintTerms.parse` with this vocabulary: a group added here counts for the blueprint too."""
        goals: set[str] = set()
        items: list[str] = []
        in_scope = True
        for line in blueprint.splitlines():
            if line.lstrip().startswith("#"):
                in_scope = not OUT_OF_SCOPE_HEADING.search(line)
                continue
            if in_scope:
                goals |= self.terms(line)
            else:
                items.extend(part for part in re.split(r"[,;.]|\band\b|\bor\b", line) if part.strip())
        excluded = tuple(frozenset(self.terms(item) - goals) for item in items)
        always = tuple(
            tuple(frozenset(c for word in group for c in self.concepts_of(word)) for group in item)
            for item in vocabulary.ALWAYS_OUT_OF_SCOPE
        )
        return BlueprintTerms(frozenset(goals), tuple(item for item in excluded if item), always)


class HintedLexicalScorer(LexicalScorer):
    """The lexical scorer with the hints' vocabulary and generic weight. Method `lexical`: its score informs,
    it can never grant auto-approval, whatever its vocabulary."""

    def __init__(self, hints: AlignmentScorerHints) -> None:
        self.vocabulary = Vocabulary.of(hints)
        if hints.generic_weight is not None:
            self.GENERIC_WEIGHT = float(hints.generic_weight)

    def score(self, intent: Intent, blueprint: str) -> Alignment:
        parsed = self.vocabulary.blueprint(blueprint)
        text = " ".join((intent.service_name.replace("-", " "), intent.purpose, intent.blueprint_context))
        spelling = self.vocabulary.spelled(text)
        evidence = self.evidence(spelling, parsed)
        score = self.OUT_OF_SCOPE if evidence.out_of_scope else self._from_weight(evidence.weight)
        rationale = LEXICAL_RATIONALE.format(evidence=self._explain(evidence, spelling))
        return Alignment(round(score, 2), AlignmentMethod.LEXICAL, rationale)

    def evidence(self, spelling: dict[str, str], parsed: BlueprintTerms) -> Evidence:
        vocab = self.vocabulary
        named = set(spelling)
        distinct = {
            c for c in named if c not in vocab.generic_concepts and spelling[c] not in vocab.generic_words
        }
        towards = {c: 1.0 if c in distinct else self.GENERIC_WEIGHT for c in sorted(named & parsed.goals)}
        excluded = set().union(*parsed.excluded) if parsed.excluded else set()
        against = tuple(sorted(distinct & excluded - parsed.goals))
        items = [item for item in parsed.excluded if _names(item, named, distinct)]
        items += [
            frozenset().union(*item) & named for item in parsed.always_out if all(g & named for g in item)
        ]
        return Evidence(towards, against, tuple(items))


def _names(item: frozenset[str], named: set[str], distinct: set[str]) -> bool:
    hit = item & named
    return len(hit) >= min(2, len(item)) and bool(hit & distinct)


def hinted_scorer(base: AlignmentScorer, hints: AlignmentScorerHints) -> AlignmentScorer:
    """The learned model the hints carry; else the lexical scorer with the hints, when `base` is lexical (a
    model's scorer takes no vocabulary)."""
    if hints.learned_model is not None:
        return LearnedScorer(LearnedModel.from_json(hints.learned_model, source="learned_model"))
    return HintedLexicalScorer(hints) if isinstance(base, LexicalScorer) else base


# -- one stage, configured ----------------------------------------------------------------------------------


def with_hints(stages: FactoryStages, hints: AnyStageHints) -> FactoryStages:
    """`stages` with the stage `hints` are for configured by them (the others as they were)."""
    if isinstance(hints, SpecBuilderHints):
        return replace(stages, builder=HintedSpecBuilder(stages.builder, hints))
    if isinstance(hints, SpecVerifierHints):
        return replace(stages, verifier=HintedSpecVerifier(stages.verifier, hints))
    if isinstance(hints, SpecOptimizerHints):
        optimizer: SpecOptimizer = HintedSpecOptimizer(hints)
        return replace(stages, optimizer=optimizer)
    return replace(stages, scorer=hinted_scorer(stages.scorer, hints))
