"""The built-in stages configured by a stage service's hints: each hint changes what it claims to change,
its claim's check (the one the stage service's own tests run) holds for it and fails for the built-in,
and the hinted stages still pass the stage's conformance suite unless a hint breaks the contract."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.factory.builtin import builtin_stages
from pipeline.factory.conformance import (
    BLUEPRINT,
    BOOKMARKS,
    BUILD_CASES,
    GREETINGS,
    OPTIMIZE_CASES,
    SCORE_CASES,
    VERIFY_CASES,
    SpecInput,
    check_builder,
    check_optimizer,
    check_scorer,
    check_verifier,
)
from pipeline.factory.hintchecks import hint_checks
from pipeline.factory.hinted import HintedLexicalScorer, rubric
from pipeline.factory.interfaces import FactoryStages
from pipeline.factory.stages import Stage
from pipeline.governance.alignment import LexicalScorer
from pipeline.intents import load_intent, load_intent_file, parse_intent_mapping
from pipeline.intents.stagehints import AnyStageHints
from pipeline.shadow.history import load_history
from pipeline.spec.optimizer import optimize
from pipeline.spec.verifier import DEFAULT_GATE, WEIGHTS
from tests.conftest import EXAMPLES

HINTS: dict[Stage, str] = {
    Stage.SPEC_BUILDER: """
  sections:
    security: ['{title} refuses bodies over 64 KiB with 413.', 'Tokens of {service_name} are never logged.']
    observability: ['GET /metrics counts requests by route.']
    out_of_scope: ['Single sign-on for {title}.']
  non_functional: {latency_ms: 150, latency_percentile: 99, availability_percent: 99.9}
  wording: {quickly: within 150 ms at the 99th percentile, easy: with one request}
  acceptance_criteria:
    create_ok: {given: 'a {resource} with every field', when: '{method} {path}', then: 'it answers {status}'}
""",
    Stage.SPEC_VERIFIER: """
  weights: {security: 10, overview: 4}
  vague_words: [speedy, nifty]
  not_vague: [modern]
""",
    Stage.SPEC_OPTIMIZER: """
  repair_order: [no-out-of-scope, ac-incomplete, vague-word]
  skip: [fr-not-must]
""",
    Stage.ALIGNMENT_SCORER: """
  synonyms: [[kudos, praise, thanks]]
  generic_words: [widget]
  generic_weight: 0.5
""",
}


def hints_for(stage: Stage, text: str | None = None) -> AnyStageHints:
    source = (
        f"service_name: {stage.value}-v2\npurpose: A new version of a stage.\nimplements: {stage.value}@1\n"
    )
    intent = load_intent(
        source + "stage_hints:" + (text if text is not None else HINTS[stage]), source="x.yaml"
    )
    assert intent.stage_hints is not None
    return intent.stage_hints


def implementation(stages: FactoryStages, stage: Stage) -> Any:
    return {
        Stage.SPEC_BUILDER: stages.builder,
        Stage.SPEC_VERIFIER: stages.verifier,
        Stage.SPEC_OPTIMIZER: stages.optimizer,
        Stage.ALIGNMENT_SCORER: stages.scorer,
    }[stage]


def hinted(stage: Stage, text: str | None = None) -> Any:
    return implementation(builtin_stages(hints=hints_for(stage, text)), stage)


def builtin(stage: Stage) -> Any:
    return implementation(builtin_stages(), stage)


# -- every claim holds for the hinted stage, and not for the built-in one -----------------------------------


CLAIMS = [(stage, check.key) for stage in HINTS for check in hint_checks(hints_for(stage))]


@pytest.mark.parametrize(("stage", "key"), CLAIMS, ids=[f"{s.value}:{k}" for s, k in CLAIMS])
def test_each_claim_holds_for_the_hinted_stage_and_not_the_built_in_one(stage: Stage, key: str) -> None:
    check = next(c for c in hint_checks(hints_for(stage)) if c.key == key)
    assert check.claim.count("MUST") >= 1
    assert check.run(hinted(stage)) == []
    assert check.run(builtin(stage)) != []


def test_no_hints_make_no_claims() -> None:
    assert hint_checks(None) == ()


# -- what each hint changes ---------------------------------------------------------------------------------


def test_the_builder_writes_its_templates_and_numbers() -> None:
    spec = hinted(Stage.SPEC_BUILDER).build(GREETINGS.intent(), blueprint=BLUEPRINT)
    assert spec.security == [
        "Greetings refuses bodies over 64 KiB with 413.",
        "Tokens of greetings are never logged.",
    ]
    assert spec.observability == ["GET /metrics counts requests by route."]
    assert spec.overview.out_of_scope == ["Single sign-on for Greetings."]
    latency = next(n for n in spec.non_functional if n.category.value == "latency")
    assert (latency.target, latency.unit) == (150.0, "ms")
    assert latency.statement == "99% of requests MUST complete within 150 ms at up to 50 requests per second."
    assert (
        builtin(Stage.SPEC_BUILDER).build(GREETINGS.intent(), blueprint=BLUEPRINT).security != spec.security
    )


def test_the_builder_words_criteria_by_scenario() -> None:
    spec = hinted(Stage.SPEC_BUILDER).build(BOOKMARKS.intent(), blueprint=BLUEPRINT)
    created = next(ac for ac in spec.acceptance_criteria if ac.check == "create_ok")
    assert (created.given, created.when, created.then) == (
        "a bookmark with every field",
        "POST /bookmarks",
        "it answers 201",
    )


def test_the_builder_s_wording_turns_a_below_gate_spec_into_one_at_the_gate() -> None:
    # A vague word in an endpoint's summary lands in the scope and the endpoint too, where the optimizer's
    # repairs cannot reword it: the built-in spec never reaches the gate; the hinted one does at once.
    data = dict(GREETINGS.data)
    data["endpoints"] = [{**data["endpoints"][0], "summary": "Return the default greeting quickly."}]
    intent = parse_intent_mapping(data, source=GREETINGS.intent_path)
    before = builtin_stages().optimizer.optimize(
        builtin(Stage.SPEC_BUILDER).build(intent, blueprint=BLUEPRINT), gate=DEFAULT_GATE, max_rounds=3
    )
    after = builtin_stages().optimizer.optimize(
        hinted(Stage.SPEC_BUILDER).build(intent, blueprint=BLUEPRINT), gate=DEFAULT_GATE, max_rounds=3
    )
    assert not before.reached_gate and "vague-word" in {f.code for f in before.verification.findings}
    assert after.reached_gate and len(after.rounds) == 1
    assert any(
        ep.summary == "Return the default greeting within 150 ms at the 99th percentile."
        for ep in after.spec.endpoints
    )


def test_paths_keep_their_words() -> None:
    data = dict(GREETINGS.data)
    data["endpoints"] = [{**data["endpoints"][0], "path": "/quickly", "summary": "Answer quickly."}]
    spec = hinted(Stage.SPEC_BUILDER).build(parse_intent_mapping(data, source="x"), blueprint=BLUEPRINT)
    endpoint = next(ep for ep in spec.endpoints if ep.path == "/quickly")
    assert endpoint.summary == "Answer within 150 ms at the 99th percentile."


def test_the_verifier_weighs_sections_as_hinted_and_says_its_rubric_changed() -> None:
    spec = SpecInput(GREETINGS).spec()
    verification = hinted(Stage.SPEC_VERIFIER).verify(spec)
    built_in = builtin(Stage.SPEC_VERIFIER).verify(spec)
    assert rubric(hints_for(Stage.SPEC_VERIFIER))["security"] == 10 != WEIGHTS["security"]
    assert verification.section_scores["security"] == 10 and built_in.section_scores["security"] == 6
    assert verification.rubric_version.startswith(built_in.rubric_version + "+")
    assert sum(rubric(hints_for(Stage.SPEC_VERIFIER)).values()) == 100


def test_the_verifier_s_words() -> None:
    verifier = hinted(Stage.SPEC_VERIFIER)
    spec = SpecInput(GREETINGS).spec()
    first, *rest = spec.functional_requirements
    said = first.model_copy(update={"statement": first.statement + " The answer is speedy and modern."})
    verification = verifier.verify(spec.model_copy(update={"functional_requirements": [said, *rest]}))
    vague = {f.message.split("'")[1] for f in verification.findings if f.code == "vague-word"}
    assert vague == {"speedy"}
    assert not verification.hard_checks_passed and verification.score <= 60


def test_the_optimizer_runs_its_repairs_in_its_order_and_never_the_skipped_ones() -> None:
    spec = SpecInput(GREETINGS).spec()
    first, *rest = spec.functional_requirements
    spec = spec.model_copy(
        update={
            "overview": spec.overview.model_copy(update={"out_of_scope": []}),
            "functional_requirements": [
                first.model_copy(
                    update={"statement": first.statement.replace("MUST", "will") + " It is fast."}
                ),
                *rest,
            ],
        }
    )
    report = hinted(Stage.SPEC_OPTIMIZER).optimize(spec, gate=DEFAULT_GATE, max_rounds=2)
    made = [line.split(" ")[0] for one in report.rounds for line in one.repairs]
    assert made[:2] == ["no-out-of-scope", "vague-word"]
    assert "fr-not-must" not in made
    assert "fr-not-must" in {f.code for f in report.verification.findings}
    built_in = builtin(Stage.SPEC_OPTIMIZER).optimize(spec, gate=DEFAULT_GATE, max_rounds=2)
    assert "fr-not-must" in [line.split(" ")[0] for one in built_in.rounds for line in one.repairs]


def test_the_scorer_counts_its_synonyms_and_stays_lexical() -> None:
    blueprint = "# Blueprint\n\n## Goals\n1. Praise the team's work.\n"
    intent = parse_intent_mapping({"service_name": "kudos-wall", "purpose": "Post kudos."}, source="x")
    scorer = hinted(Stage.ALIGNMENT_SCORER)
    assert isinstance(scorer, HintedLexicalScorer)
    hinted_score = scorer.score(intent, blueprint)
    assert hinted_score.score > LexicalScorer().score(intent, blueprint).score
    assert hinted_score.method.value == "lexical"
    assert not hinted_score.method.can_grant_auto_approval


# -- the contract still holds -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", BUILD_CASES, ids=lambda c: c.name)
def test_the_hinted_builder_conforms(case: Any) -> None:
    assert check_builder(hinted(Stage.SPEC_BUILDER), case) == []


@pytest.mark.parametrize("case", VERIFY_CASES, ids=lambda c: c.name)
def test_the_hinted_verifier_conforms(case: Any) -> None:
    assert check_verifier(hinted(Stage.SPEC_VERIFIER), case) == []


@pytest.mark.parametrize("case", OPTIMIZE_CASES, ids=lambda c: c.name)
def test_the_hinted_optimizer_conforms(case: Any) -> None:
    assert check_optimizer(hinted(Stage.SPEC_OPTIMIZER), case) == []


@pytest.mark.parametrize("case", SCORE_CASES, ids=lambda c: c.name)
def test_the_hinted_scorer_conforms(case: Any) -> None:
    assert check_scorer(hinted(Stage.ALIGNMENT_SCORER), case) == []


def test_a_hint_that_breaks_the_contract_fails_the_conformance_suite() -> None:
    # 'fast' no longer vague: the suite's vague requirement passes the hard checks it must fail.
    verifier = hinted(Stage.SPEC_VERIFIER, "\n  not_vague: [fast]\n")
    problems = [p for case in VERIFY_CASES for p in check_verifier(verifier, case)]
    assert any("the hard checks should fail" in p for p in problems)


# -- the example ------------------------------------------------------------------------------------------


def test_the_example_spec_builder_v2_costs_fewer_optimizer_rounds_on_the_bundled_history() -> None:
    hints = load_intent_file(EXAMPLES / "intents" / "spec-builder-v2.yaml").stage_hints
    sides = {"built-in": builtin_stages().builder, "v2": builtin_stages(hints=hints).builder}
    rounds = dict.fromkeys(sides, 0)
    at_gate = dict.fromkeys(sides, 0)
    for case in load_history(floor=None, limit=100):
        for side, builder in sides.items():
            spec = builder.build(case.intent, blueprint=case.blueprint, intent_path=case.path)
            report = optimize(spec)  # the line's own optimizer and rubric referee both sides
            rounds[side] += len(report.rounds) - 1
            at_gate[side] += report.reached_gate
    assert rounds["v2"] < rounds["built-in"], rounds
    assert at_gate["v2"] >= at_gate["built-in"], at_gate
