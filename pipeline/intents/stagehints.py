"""Stage intents: `implements: <stage>@<contract version>` and the `stage_hints` each stage takes.

An intent that implements a stage asks the line for a new version of one of its own stages (a **stage
service**). Offline no model writes its logic, so what it does differently comes from these hints, one
pydantic model per stage, validated with file:line like every intent field:

- spec-builder: section templates (security, observability, out of scope), default non-functional
  numbers, measurable wording for vague words, acceptance-criteria wording per scenario;
- spec-verifier: rubric weights per section, extra vague words, words no longer vague;
- spec-optimizer: the order its repairs run in, and repairs it leaves out;
- alignment-scorer: vocabulary additions (synonym groups, generic words) and the weight of generic words,
  or a learned model (`pipeline.governance.learned`) that answers instead;
- code-generator: none, and no stage service: offline the line's templates are its code generator, and
  a new one needs a model to write its logic, so `implements: code-generator@1` is refused with its line.

The names hints refer to (sections, scenarios, repairs, vague words) are the line's own, read from
`pipeline.spec` when a hint is validated: that package imports this one, so it is imported late.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from typing import Annotated, Any, ClassVar, Final, Union, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from pipeline.factory.stages import CONTRACT_VERSION, CONTRACT_VERSIONS, Stage

IMPLEMENTS_PATTERN = r"^[a-z][a-z-]*@[0-9]+$"
IMPLEMENTS_FORM = re.compile(r"^(?P<stage>[a-z][a-z-]*)@(?P<version>[0-9]+)$")
STAGE_ALIASES: Final = {"governance": Stage.ALIGNMENT_SCORER, "build-executor": Stage.CODE_GENERATOR}
"""The seed's service names of two stages: `governance-v2` is a new alignment scorer."""
_VERSIONED_NAME = re.compile(
    r"^(?P<stage>" + "|".join(re.escape(n) for n in [*(s.value for s in Stage), *STAGE_ALIASES]) + r")-v\d+"
)
MAX_LINES = 30
MAX_LINE_CHARS = 500
MAX_WORDS = 100
MAX_GROUPS = 50

NOT_A_REFERENCE = "must be '<stage>@<contract version>', e.g. 'spec-builder@{version}', got {value!r}"
UNKNOWN_STAGE = "unknown stage {stage!r} (one of: {known})"
UNKNOWN_VERSION = "{stage} has no contract version {version} (versions: {known})"
NOT_WITH_RESOURCES = (
    "a stage service serves its stage's contract and nothing else: remove {fields} (the contract's "
    "endpoints are added by the line)"
)
HINTS_WITHOUT_STAGE = (
    "stage_hints need `implements: <stage>@<contract version>` to say which stage they are for"
)
NO_CODE_GENERATOR = (
    "the line does not build a code-generator stage service: offline its code generator is its templates, "
    "so a copy would answer as the built-in one does, and a new one needs a model to write its logic "
    "(change the templates under templates/service instead)"
)
UNKNOWN_HINT = "unknown field '{name}' (allowed: {allowed})"
UNKNOWN_PLACEHOLDER = "unknown placeholder {{{name}}} (known: {known}); write '{{{{' and '}}}}' for braces"
BAD_PLACEHOLDER = "{{{text}}} is not a placeholder (known: {known}); write '{{{{' and '}}}}' for braces"
UNKNOWN_NAME = "{name!r} is not one of the line's {what} ({known})"
TWICE = "{name!r} is named twice"
BOTH_LISTS = "{names} cannot be in both {first} and {second}"
LEARNED_AND_LEXICAL = (
    "learned_model replaces the lexical scorer: synonyms, generic_words and generic_weight do not apply to it"
)
WEIGHTS_TOTAL = "the rubric's weights must add up to 100; with these they add up to {total}"
STILL_VAGUE = "says {vague!r}, itself a vague word: give a number instead"
ONE_WORD_GROUP = "a synonym group needs at least two words"
SUGGESTION = (
    "{name} looks like a new version of the {stage} stage: add `implements: {stage}@{version}` (and its "
    "stage_hints) to build a stage service the line can prove and adopt; without it, it is built as an "
    "ordinary service"
)


# -- implements ------------------------------------------------------------------------------------------


def parse_implements(value: str) -> tuple[Stage, str]:
    """(stage, contract version) of an `implements` value; ValueError saying what is wrong."""
    match = IMPLEMENTS_FORM.match(value.strip())
    if match is None:
        raise ValueError(NOT_A_REFERENCE.format(version=CONTRACT_VERSION, value=value))
    try:
        stage = Stage(match["stage"])
    except ValueError:
        known = ", ".join(s.value for s in Stage)
        raise ValueError(UNKNOWN_STAGE.format(stage=match["stage"], known=known)) from None
    if match["version"] not in CONTRACT_VERSIONS:
        known = ", ".join(CONTRACT_VERSIONS)
        raise ValueError(UNKNOWN_VERSION.format(stage=stage.value, version=match["version"], known=known))
    return stage, match["version"]


def _check_implements(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    stage, version = parse_implements(value)
    if stage is Stage.CODE_GENERATOR:
        raise ValueError(NO_CODE_GENERATOR)
    given = [name for name in ("resources", "endpoints") if info.data.get(name)]
    if given:
        raise ValueError(NOT_WITH_RESOURCES.format(fields=" and ".join(given)))
    return f"{stage.value}@{version}"


Implements = Annotated[
    StrictStr | None,
    AfterValidator(_check_implements),
    Field(
        description=(
            "This intent is a new version of one of the line's stages: '<stage>@<contract version>' (stages: "
            f"{', '.join(s.value for s in Stage)}; contract versions: {', '.join(CONTRACT_VERSIONS)})."
        ),
        json_schema_extra={"pattern": IMPLEMENTS_PATTERN},
    ),
]


# -- placeholders in templates -----------------------------------------------------------------------------

SPEC_PLACEHOLDERS: Final = ("service_name", "title")
CRITERION_PLACEHOLDERS: Final = (*SPEC_PLACEHOLDERS, "resource", "method", "path", "status")


def placeholders(text: str) -> Iterator[str]:
    """The placeholder names of a template line ('{service_name}'); ValueError for anything else in braces
    (an attribute, an index, a conversion or a format: `str.format` would run them)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{exc}; write '{{{{' and '}}}}' for braces") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not re.fullmatch(r"[a-z_]+", name) or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(BAD_PLACEHOLDER.format(text=shown, known=_known(CRITERION_PLACEHOLDERS)))
        yield name


def check_template(text: str, known: tuple[str, ...]) -> str:
    for name in placeholders(text):
        if name not in known:
            raise ValueError(UNKNOWN_PLACEHOLDER.format(name=name, known=_known(known)))
    return text


def fill(template: str, values: dict[str, str]) -> str:
    """A validated template line with its placeholders filled (no attribute or index is ever evaluated)."""
    return template.format_map({name: values.get(name, "") for name in placeholders(template)})


def _known(names: tuple[str, ...]) -> str:
    return ", ".join("{" + n + "}" for n in names)


Line = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LINE_CHARS)]
Word = Annotated[
    StrictStr,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=40, pattern=r"^[a-z][a-z0-9-]*( [a-z0-9-]+)*$"
    ),
]


# -- the line's own names (pipeline.spec imports this package: read them when a hint is checked) -----------


def known_checks() -> tuple[str, ...]:
    from pipeline.spec.model import CHECKS

    return tuple(sorted(CHECKS))


def known_repairs() -> tuple[str, ...]:
    from pipeline.spec.repairs import REPAIRS

    return tuple(REPAIRS)


def rubric_weights() -> dict[str, int]:
    from pipeline.spec.verifier import WEIGHTS

    return dict(WEIGHTS)


def rubric_sections() -> tuple[str, ...]:
    return tuple(rubric_weights())


def builtin_vague_words() -> tuple[str, ...]:
    from pipeline.spec.verifier import VAGUE_WORDS

    return tuple(VAGUE_WORDS)


def _vague_pattern() -> re.Pattern[str]:
    words = builtin_vague_words()
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def _measurable(text: str) -> str:
    """A line every SPEC will say: a vague word in it would be a hard finding in each of them."""
    found = _vague_pattern().search(re.sub(r"/\S*", " ", text))
    if found:
        raise ValueError(STILL_VAGUE.format(vague=found.group(1).lower()))
    return text


def _spec_line(text: str) -> str:
    return _measurable(check_template(text, SPEC_PLACEHOLDERS))


def _criterion_line(text: str) -> str:
    return _measurable(check_template(text, CRITERION_PLACEHOLDERS))


def _one_of(known: Callable[[], tuple[str, ...]], what: str) -> Callable[[str], str]:
    def check(name: str) -> str:
        names = known()
        if name not in names:
            raise ValueError(UNKNOWN_NAME.format(name=name, what=what, known=", ".join(names)))
        return name

    return check


def _unique(values: list[str] | None) -> list[str] | None:
    seen: set[str] = set()
    for value in values or ():
        if value in seen:
            raise ValueError(TWICE.format(name=value))
        seen.add(value)
    return values


SpecLine = Annotated[Line, AfterValidator(_spec_line)]
CriterionLine = Annotated[Line, AfterValidator(_criterion_line)]
Measurable = Annotated[Line, AfterValidator(_spec_line)]
Scenario = Annotated[StrictStr, AfterValidator(_one_of(known_checks, "test scenarios"))]
Section = Annotated[StrictStr, AfterValidator(_one_of(rubric_sections, "rubric sections"))]
RepairName = Annotated[StrictStr, AfterValidator(_one_of(known_repairs, "repairs"))]
BuiltinVagueWord = Annotated[Word, AfterValidator(_one_of(builtin_vague_words, "vague words"))]
Weight = Annotated[StrictInt, Field(ge=0, le=100)]


# -- the hints of each stage -------------------------------------------------------------------------------


class _Hints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: ClassVar[Stage]


class SectionTemplates(_Hints):
    """Lines that replace the built-in ones in every SPEC this builder writes. Placeholders:
    {service_name}, {title}."""

    security: list[SpecLine] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    observability: list[SpecLine] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    out_of_scope: list[SpecLine] | None = Field(default=None, min_length=1, max_length=MAX_LINES)


class NonFunctionalDefaults(_Hints):
    """The numbers of the non-functional requirements every SPEC commits to (the built-in: 95% within
    200 ms at up to 50 requests per second, 99.5% a month)."""

    latency_ms: StrictInt | StrictFloat | None = Field(default=None, gt=0, le=60_000)
    latency_percentile: StrictInt | None = Field(default=None, ge=50, le=100)
    throughput_rps: StrictInt | StrictFloat | None = Field(default=None, gt=0, le=1_000_000)
    availability_percent: StrictInt | StrictFloat | None = Field(default=None, gt=0, lt=100)


class CriterionPattern(_Hints):
    """The wording of an acceptance criterion for one scenario. Placeholders: {service_name}, {title},
    {resource}, {method}, {path}, {status} (of the endpoint it exercises)."""

    given: CriterionLine | None = None
    when: CriterionLine | None = None
    then: CriterionLine | None = None


class SpecBuilderHints(_Hints):
    """spec-builder: what its SPECs say where the built-in builder writes fixed text."""

    stage: ClassVar[Stage] = Stage.SPEC_BUILDER

    sections: SectionTemplates | None = None
    non_functional: NonFunctionalDefaults | None = None
    wording: dict[Word, Measurable] | None = Field(
        default=None,
        max_length=MAX_WORDS,
        description="A vague word -> the measurable words written instead, everywhere in the SPEC's prose.",
    )
    acceptance_criteria: dict[Scenario, CriterionPattern] | None = Field(
        default=None, max_length=MAX_WORDS, description="A test scenario (e.g. create_ok) -> its wording."
    )


class SpecVerifierHints(_Hints):
    """spec-verifier: the rubric's weights per section and its list of vague words."""

    stage: ClassVar[Stage] = Stage.SPEC_VERIFIER

    weights: dict[Section, Weight] | None = Field(
        default=None, description="Section -> weight; sections not named keep theirs; the total is 100."
    )
    vague_words: list[Word] | None = Field(
        default=None, max_length=MAX_WORDS, description="Words a SPEC may not use without a number."
    )
    not_vague: list[BuiltinVagueWord] | None = Field(
        default=None, max_length=MAX_WORDS, description="Built-in vague words this verifier accepts."
    )

    @field_validator("weights")
    @classmethod
    def _total(cls, weights: dict[str, int] | None) -> dict[str, int] | None:
        if weights is not None:
            total = sum({**rubric_weights(), **weights}.values())
            if total != 100:
                raise ValueError(WEIGHTS_TOTAL.format(total=total))
        return weights

    @field_validator("vague_words", "not_vague")
    @classmethod
    def _once(cls, words: list[str] | None) -> list[str] | None:
        return _unique(words)

    @model_validator(mode="after")
    def _apart(self) -> SpecVerifierHints:
        _apart(self.vague_words, self.not_vague, ("vague_words", "not_vague"))
        return self


class SpecOptimizerHints(_Hints):
    """spec-optimizer: the order its repairs run in each round, and repairs it never makes."""

    stage: ClassVar[Stage] = Stage.SPEC_OPTIMIZER

    repair_order: list[RepairName] | None = Field(
        default=None, max_length=MAX_WORDS, description="Repairs (by finding code) run first, in this order."
    )
    skip: list[RepairName] | None = Field(
        default=None, max_length=MAX_WORDS, description="Repairs (by finding code) it never makes."
    )

    @field_validator("repair_order", "skip")
    @classmethod
    def _once(cls, names: list[str] | None) -> list[str] | None:
        return _unique(names)

    @model_validator(mode="after")
    def _apart(self) -> SpecOptimizerHints:
        _apart(self.repair_order, self.skip, ("repair_order", "skip"))
        return self


class AlignmentScorerHints(_Hints):
    """alignment-scorer (the offline, lexical one): more words for the blueprint's concepts, and how much
    generic words weigh. Its score informs policies and people; it never grants auto-approval."""

    stage: ClassVar[Stage] = Stage.ALIGNMENT_SCORER

    synonyms: list[Annotated[list[Word], Field(min_length=2, max_length=MAX_WORDS)]] | None = Field(
        default=None, max_length=MAX_GROUPS, description="Groups of words that stand for one concept."
    )
    generic_words: list[Word] | None = Field(
        default=None, max_length=MAX_WORDS, description="Words that say little about any goal."
    )
    generic_weight: StrictFloat | StrictInt | None = Field(
        default=None, ge=0, le=1, description="What a generic word weighs against a goal's (built-in: 0.25)."
    )
    learned_model: dict[str, Any] | None = Field(
        default=None,
        description="A learned model (`intentops train-scorer` writes it): the scorer answers with it "
        "instead of counting words; words can only lower its scores.",
    )

    @field_validator("learned_model")
    @classmethod
    def _learned(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            from pipeline.governance.learned import LearnedModel  # imports pipeline.intents: late

            LearnedModel.from_json(value, source="learned_model")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> AlignmentScorerHints:
        lexical = self.synonyms or self.generic_words or self.generic_weight is not None
        if self.learned_model is not None and lexical:
            raise ValueError(LEARNED_AND_LEXICAL)
        return self

    @field_validator("synonyms")
    @classmethod
    def _groups(cls, groups: list[list[str]] | None) -> list[list[str]] | None:
        for group in groups or ():
            if len(set(group)) < 2:
                raise ValueError(ONE_WORD_GROUP)
        return groups


def _apart(first: list[str] | None, second: list[str] | None, names: tuple[str, str]) -> None:
    both = sorted(set(first or ()) & set(second or ()))
    if both:
        listed = ", ".join(repr(w) for w in both)
        raise ValueError(BOTH_LISTS.format(names=listed, first=names[0], second=names[1]))


AnyStageHints = Union[  # noqa: UP007 (a Union keeps each model a separate, named choice in the schema)
    SpecBuilderHints, SpecVerifierHints, SpecOptimizerHints, AlignmentScorerHints
]
HINTS: Final[dict[Stage, type[_Hints]]] = {
    model.stage: model
    for model in (SpecBuilderHints, SpecVerifierHints, SpecOptimizerHints, AlignmentScorerHints)
}


def hints_model(stage: Stage) -> type[_Hints] | None:
    """The hints `stage` takes (None: the code-generator, which takes none)."""
    return HINTS.get(stage)


def _pick_hints(value: Any, _handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """Validate `stage_hints` against the model of the stage `implements` names."""
    if value is None:
        return None
    if "implements" not in info.data:
        return None  # `implements` itself is invalid and reported; hints for an unknown stage say nothing
    implements = info.data["implements"]
    if implements is None:
        raise ValueError(HINTS_WITHOUT_STAGE)
    stage, _version = parse_implements(implements)
    model = hints_model(stage)
    if model is None:
        raise ValueError(NO_CODE_GENERATOR)
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise _readable(exc, model) from None


StageHints = Annotated[
    AnyStageHints | None,
    WrapValidator(_pick_hints),
    Field(
        description=(
            "What this version of the stage does differently (needs `implements`); one schema per stage: "
            + ", ".join(f"{stage.value}: {model.__name__}" for stage, model in HINTS.items())
            + "; the code-generator takes none."
        ),
    ),
]


# -- errors a person can act on ---------------------------------------------------------------------------


def _readable(exc: ValidationError, model: type[BaseModel]) -> ValidationError:
    """The hint model's errors, an unknown field naming the fields allowed where it was written."""
    details: list[InitErrorDetails] = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if part != "[key]")
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(_model_at(model, loc[:-1]).model_fields)) or "none"
            context = {"name": str(loc[-1]), "allowed": allowed}
            kind = PydanticCustomError("unknown_hint", UNKNOWN_HINT, context)
            details.append({"type": kind, "loc": loc, "input": error["input"]})
        else:
            detail: InitErrorDetails = {"type": error["type"], "loc": loc, "input": error["input"]}
            if "ctx" in error:
                detail["ctx"] = error["ctx"]
            details.append(detail)
    return ValidationError.from_exception_data(exc.title, details)


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel]:
    """The model a location inside `model` points into (through optional values, lists and mappings)."""
    current: Any = model
    for part in loc:
        if isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return current
            current = _inner(field.annotation)
        else:
            current = _inner(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else model


def _inner(annotation: Any) -> Any:
    """The model inside `X | None`, `list[X]` or `dict[str, X]`, if there is one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in reversed(get_args(annotation)):
        found = _inner(argument)
        if found is not None:
            return found
    return None


# -- validate's suggestion ---------------------------------------------------------------------------------


def stage_suggestion(service_name: str, implements: str | None) -> str | None:
    """A suggestion for an intent named like a new version of a stage (`spec-verifier-v2`) that does not
    say `implements`: not an error (a service may be named so), but most likely an oversight."""
    if implements is not None:
        return None
    match = _VERSIONED_NAME.match(service_name)
    if match is None:
        return None
    stage = STAGE_ALIASES.get(match["stage"]) or Stage(match["stage"])
    return SUGGESTION.format(name=service_name, stage=stage.value, version=CONTRACT_VERSION)
