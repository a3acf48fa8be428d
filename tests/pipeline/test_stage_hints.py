"""Stage intents: `implements: <stage>@<contract version>` and the `stage_hints` each stage takes, validated
with file:line like every intent field, published in the intent JSON Schema, and suggested by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from pipeline.factory.stages import CONTRACT_VERSION, Stage
from pipeline.governance.alignment import GivenScore
from pipeline.governance.decision import PolicyAction
from pipeline.governance.engine import govern
from pipeline.governance.floor import load_floor
from pipeline.governance.loading import load_policies
from pipeline.intents import (
    InvalidIntent,
    intent_json_schema,
    load_intent,
    load_intent_file,
    parse_intent_mapping,
)
from pipeline.intents.stagehints import (
    AlignmentScorerHints,
    SpecBuilderHints,
    SpecOptimizerHints,
    SpecVerifierHints,
    fill,
    stage_suggestion,
)
from tests.conftest import EXAMPLES, ROOT

SOURCE = "intents/spec-builder-v2.yaml"
HEAD = "service_name: spec-builder-v2\npurpose: SPECs with measurable wording\n"


def stage_intent(stage: str, hints: str = "", *, head: str = HEAD) -> str:
    return f"{head}implements: {stage}@{CONTRACT_VERSION}\n" + (f"stage_hints:\n{hints}" if hints else "")


def only(text: str) -> tuple[int, int, str, str]:
    with pytest.raises(InvalidIntent) as caught:
        load_intent(text, source=SOURCE)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file == SOURCE
    return problem.line, problem.column, problem.field, problem.message


# -- implements ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.CODE_GENERATOR])
def test_a_stage_and_its_contract_version_are_accepted(stage: Stage) -> None:
    intent = load_intent(stage_intent(stage.value), source=SOURCE)
    assert intent.implements == f"{stage.value}@{CONTRACT_VERSION}"
    assert intent.stage_hints is None


def test_an_unknown_contract_version_says_which_versions_exist() -> None:
    line, column, field, message = only(HEAD + "implements: spec-builder@2\n")
    assert (line, column, field) == (3, 13, "implements")
    assert message == f"spec-builder has no contract version 2 (versions: {CONTRACT_VERSION})"


def test_an_unknown_stage_lists_the_stages() -> None:
    _line, _column, field, message = only(HEAD + "implements: spec-writer@1\n")
    assert field == "implements"
    assert message.startswith("unknown stage 'spec-writer' (one of: alignment-scorer, spec-builder")


def test_implements_without_a_version_shows_the_form() -> None:
    _line, _column, _field, message = only(HEAD + "implements: spec-builder\n")
    assert "must be '<stage>@<contract version>', e.g. 'spec-builder@1'" in message


def test_a_code_generator_stage_service_is_refused_with_why() -> None:
    line, _column, field, message = only(HEAD + "implements: code-generator@1\n")
    assert (line, field) == (3, "implements")
    assert "needs a model to write its logic" in message


def test_a_stage_service_serves_only_its_contract() -> None:
    text = HEAD + "resources:\n  - name: note\n    fields: {text: string}\nimplements: spec-builder@1\n"
    line, _column, field, message = only(text)
    assert (line, field) == (6, "implements")
    assert message.startswith(
        "a stage service serves its stage's contract and nothing else: remove resources"
    )


def test_hints_without_implements_are_an_error_at_their_line() -> None:
    line, _column, field, message = only(HEAD + "stage_hints:\n  wording: {fast: within 200 ms}\n")
    assert (line, field) == (4, "stage_hints")
    assert "need `implements: <stage>@<contract version>`" in message


# -- the hints of each stage ----------------------------------------------------------------------------


def test_each_stage_gets_its_own_hint_model() -> None:
    builder = load_intent(stage_intent("spec-builder", "  wording: {fast: within 200 ms}\n"), source=SOURCE)
    verifier = load_intent(stage_intent("spec-verifier", "  vague_words: [speedy]\n"), source=SOURCE)
    optimizer = load_intent(stage_intent("spec-optimizer", "  skip: [fr-not-must]\n"), source=SOURCE)
    scorer = load_intent(stage_intent("alignment-scorer", "  generic_weight: 0.5\n"), source=SOURCE)
    assert isinstance(builder.stage_hints, SpecBuilderHints)
    assert isinstance(verifier.stage_hints, SpecVerifierHints)
    assert isinstance(optimizer.stage_hints, SpecOptimizerHints)
    assert isinstance(scorer.stage_hints, AlignmentScorerHints)


def test_another_stages_hint_is_an_unknown_field_listing_this_stages() -> None:
    line, column, field, message = only(stage_intent("spec-verifier", "  wording: {fast: within 200 ms}\n"))
    assert (line, column, field) == (5, 12, "stage_hints.wording")
    assert message == "unknown field 'wording' (allowed: not_vague, vague_words, weights)"


def test_a_misspelt_nested_hint_lists_the_fields_where_it_was_written() -> None:
    _line, _column, field, message = only(stage_intent("spec-builder", "  sections:\n    securty: [x]\n"))
    assert field == "stage_hints.sections.securty"
    assert message == "unknown field 'securty' (allowed: observability, out_of_scope, security)"


@pytest.mark.parametrize(
    ("hints", "where", "says"),
    [
        (
            "  sections:\n    security: ['{service_name.__class__}']\n",
            (6, "stage_hints.sections.security.0"),
            "{service_name.__class__} is not a placeholder",
        ),
        (
            "  sections:\n    security: ['Tokens for {secret}']\n",
            (6, "stage_hints.sections.security.0"),
            "unknown placeholder {secret} (known: {service_name}, {title})",
        ),
        (
            "  sections:\n    security: ['Answers are returned quickly.']\n",
            (6, "stage_hints.sections.security.0"),
            "says 'quickly', itself a vague word",
        ),
        ("  wording:\n    fast: in a simple way\n", (6, "stage_hints.wording.fast"), "says 'simple'"),
        (
            "  acceptance_criteria:\n    create_okay: {given: x}\n",
            (6, "stage_hints.acceptance_criteria.create_okay"),
            "'create_okay' is not one of the line's test scenarios",
        ),
        (
            "  non_functional: {availability_percent: 100}\n",
            (5, "stage_hints.non_functional.availability_percent"),
            "less than 100",
        ),
    ],
)
def test_builder_hints_are_checked_where_they_are_written(
    hints: str, where: tuple[int, str], says: str
) -> None:
    line, _column, field, message = only(stage_intent("spec-builder", hints))
    assert (line, field) == where
    assert says in message


@pytest.mark.parametrize(
    ("hints", "where", "says"),
    [
        (
            "  weights: {overview: 20}\n",
            (5, "stage_hints.weights"),
            "add up to 100; with these they add up to 112",
        ),
        (
            "  weights: {style: 0}\n",
            (5, "stage_hints.weights.style"),
            "'style' is not one of the line's rubric sections",
        ),
        (
            "  not_vague: [speedy]\n",
            (5, "stage_hints.not_vague.0"),
            "'speedy' is not one of the line's vague words",
        ),
        ("  vague_words: [speedy, speedy]\n", (5, "stage_hints.vague_words"), "'speedy' is named twice"),
        (
            "  vague_words: [fast]\n  not_vague: [fast]\n",
            (5, "stage_hints"),
            "'fast' cannot be in both vague_words and not_vague",
        ),
    ],
)
def test_verifier_hints_are_checked(hints: str, where: tuple[int, str], says: str) -> None:
    line, _column, field, message = only(stage_intent("spec-verifier", hints))
    assert (line, field) == where
    assert says in message


def test_optimizer_hints_name_the_line_s_repairs() -> None:
    line, _column, field, message = only(
        stage_intent("spec-optimizer", "  repair_order:\n    - vague-word\n    - tidy\n")
    )
    assert (line, field) == (7, "stage_hints.repair_order.1")
    assert message.startswith("'tidy' is not one of the line's repairs (fr-not-traced, ")


def test_scorer_synonyms_need_two_words() -> None:
    _line, _column, field, message = only(stage_intent("alignment-scorer", "  synonyms: [[kudos]]\n"))
    assert field == "stage_hints.synonyms.0"
    assert "at least 2" in message


def test_a_filled_template_never_evaluates_what_its_braces_say() -> None:
    assert (
        fill("{title} for {service_name}", {"title": "Notes", "service_name": "notes"}) == "Notes for notes"
    )
    with pytest.raises(ValueError, match="is not a placeholder"):
        fill("{title.__class__.__mro__}", {"title": "Notes"})


def test_the_intent_survives_its_own_json() -> None:
    intent = load_intent_file(EXAMPLES / "intents" / "spec-builder-v2.yaml")
    again = parse_intent_mapping(intent.model_dump(mode="json"), source=SOURCE)
    assert again == intent


# -- the published schema -----------------------------------------------------------------------------------


def test_the_intent_schema_publishes_each_stage_s_hints() -> None:
    schema = intent_json_schema()
    hints = schema["properties"]["stage_hints"]["anyOf"]
    assert {ref.get("$ref") for ref in hints} >= {
        "#/$defs/SpecBuilderHints",
        "#/$defs/SpecVerifierHints",
        "#/$defs/SpecOptimizerHints",
        "#/$defs/AlignmentScorerHints",
    }
    assert schema["$defs"]["SpecVerifierHints"]["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(schema)
    examples = [
        load_intent_file(EXAMPLES / "intents" / f"{n}.yaml") for n in ("spec-builder-v2", "spec-verifier-v2")
    ]
    for intent in examples:
        jsonschema.validate(intent.model_dump(mode="json", exclude_none=True), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"service_name": "x-v2", "purpose": "abc", "implements": "spec builder"}, schema)


# -- suggestions and governance --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stage"),
    [
        ("spec-verifier-v2", "spec-verifier"),
        ("spec-builder-v10-fast", "spec-builder"),
        ("governance-v2", "alignment-scorer"),
    ],
)
def test_a_name_like_a_stage_version_suggests_implements(name: str, stage: str) -> None:
    suggestion = stage_suggestion(name, None)
    assert suggestion is not None
    assert f"add `implements: {stage}@{CONTRACT_VERSION}`" in suggestion


@pytest.mark.parametrize("name", ["notes", "spec-verifier", "my-spec-builder-v2"])
def test_other_names_get_no_suggestion(name: str) -> None:
    assert stage_suggestion(name, None) is None
    assert stage_suggestion("spec-builder-v2", "spec-builder@1") is None


def test_implementing_a_stage_is_a_self_modification_whatever_the_name() -> None:
    defaults = load_policies(ROOT / "policies" / "defaults.yaml")
    head = "service_name: handy-notes\npurpose: Keep the team's notes\n"
    plain = load_intent(head, source=SOURCE)
    stage = load_intent(stage_intent("spec-builder", head=head), source=SOURCE)
    floor = load_floor(None)
    before = govern(plain, defaults, scorer=GivenScore(0.99), blueprint=None, floor=floor)
    after = govern(stage, defaults, scorer=GivenScore(0.99), blueprint=None, floor=floor)
    assert before.action is PolicyAction.AUTO_APPROVE
    assert after.action is PolicyAction.REQUIRES_APPROVAL
    assert "Self-modification needs two approvals" in [m.name for m in after.matched]


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    intentops = Path(sys.executable).parent / "intentops"
    return subprocess.run([str(intentops), "validate", *args], capture_output=True, text=True, timeout=60)


def test_validate_suggests_implements_for_a_stage_version_without_failing(tmp_path: Path) -> None:
    (tmp_path / "spec-verifier-v2.yaml").write_text("service_name: spec-verifier-v2\npurpose: Score SPECs\n")
    result = validate(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "note" in result.stdout and "add `implements: spec-verifier@1`" in result.stdout
    assert "1 valid, 0 invalid" in result.stdout
    report = json.loads(validate("--format", "json", str(tmp_path)).stdout)
    (entry,) = report["files"]
    assert report["valid"] is True and entry["problems"] == []
    assert entry["suggestions"][0].startswith(
        "spec-verifier-v2 looks like a new version of the spec-verifier"
    )


def test_validate_points_at_a_bad_stage_hint(tmp_path: Path) -> None:
    bad = tmp_path / "spec-builder-v2.yaml"
    bad.write_text(stage_intent("spec-builder", "  sections:\n    securty: [x]\n"))
    result = validate(str(bad))
    assert result.returncode == 1
    assert f"{bad}:6:14: stage_hints.sections.securty: unknown field 'securty'" in result.stderr
