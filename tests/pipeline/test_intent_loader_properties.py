"""Loader properties over generated input: no crash, real positions, valid intents round-trip."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from pipeline.intents import Intent, InvalidIntent, load_intent
from pipeline.intents.model import RESERVED_SERVICE_NAMES

SOURCE = "intents/generated.yaml"

labels = st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,10}){0,2}", fullmatch=True).filter(
    lambda name: name not in RESERVED_SERVICE_NAMES
)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda name: name not in {"id", "created_at", "updated_at"}
)
words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=3, max_size=80
).filter(lambda text: len(text.strip()) >= 3)
field_types = st.sampled_from(["string", "integer", "number", "boolean", "datetime"])


@st.composite
def resources(draw: st.DrawFn) -> dict[str, object]:
    fields = draw(st.dictionaries(identifiers, field_types, min_size=1, max_size=5))
    required = draw(st.lists(st.sampled_from(sorted(fields)), unique=True))
    return {"name": draw(identifiers), "fields": fields, "required": required}


@st.composite
def intents(draw: st.DrawFn) -> dict[str, object]:
    data: dict[str, object] = {"service_name": draw(labels), "purpose": draw(words).strip()}
    if draw(st.booleans()):
        data["priority"] = draw(st.sampled_from(["low", "normal", "high", "critical"]))
    if draw(st.booleans()):
        data["tier"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        data["auto_build"] = draw(st.booleans())
    items = draw(st.lists(resources(), max_size=3, unique_by=lambda r: r["name"]))
    if items:
        data["resources"] = items
    return data


def dump(data: object) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        load_intent(data, source=SOURCE)
    except InvalidIntent as exc:
        assert all(p.file == SOURCE and p.message for p in exc.problems)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"ab:- \n\t[]{},&*!'\"#|>%@`?", "!!python/x ", "&a ", "*a", "service_name: ", "\n  "]
        ),
        max_size=60,
    ).map("".join)
)
def test_yaml_shaped_noise_never_crashes_and_positions_are_in_the_file(text: str) -> None:
    lines = text.count("\n") + 1
    try:
        load_intent(text, source=SOURCE)
    except InvalidIntent as exc:
        for problem in exc.problems:
            assert 0 <= problem.line <= lines + 1, problem
            assert problem.column >= 0


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(intents())
def test_valid_intents_round_trip_through_yaml(data: dict[str, object]) -> None:
    intent = load_intent(dump(data), source=SOURCE)
    assert isinstance(intent, Intent)
    assert intent.service_name == data["service_name"]
    again = load_intent(dump(intent.model_dump(mode="json")), source=SOURCE)
    assert again == intent


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(intents(), st.sampled_from(["owner", "Purpose", "service-name", "tiers", "x"]))
def test_any_unknown_field_is_reported_on_its_own_line(data: dict[str, object], extra: str) -> None:
    text = dump(data) + f"{extra}: 1\n"
    try:
        load_intent(text, source=SOURCE)
    except InvalidIntent as exc:
        reported = [p for p in exc.problems if p.field == extra]
        assert reported and reported[0].line == text.count("\n")
    else:
        raise AssertionError(f"unknown field {extra!r} was accepted")


scalar_texts = st.one_of(
    st.text(alphabet="0123456789abcdefxob_+-.:eEinfaNyYsStTrRuUlL~", max_size=12),
    st.sampled_from(["yes", "no", "on", "off", "1:00", "017", "0x1F", "0o7", ".inf", "-.INF", ".NaN"]),
    st.integers(4300, 5000).map(lambda digits: "9" * digits),
)
tags = st.sampled_from(["", "!!int ", "!!float ", "!!bool ", "!!null ", "!!str "])
directives = st.sampled_from(["", "%YAML 1.2\n---\n", "%YAML 1.1\n---\n", "%YAML 1.0\n---\n"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(directives, st.sampled_from(["tier", "auto_build", "purpose", "priority"]), tags, scalar_texts)
def test_tagged_scalars_and_directives_load_or_are_refused_with_a_position(
    directive: str, field: str, tag: str, value: str
) -> None:
    base = "service_name: demo\npurpose: Tagged scalars\n"
    if field == "purpose":
        base = "service_name: demo\n"
    text = f"{directive}{base}{field}: {tag}{value}\n"
    try:
        intent = load_intent(text, source=SOURCE)
    except InvalidIntent as exc:
        lines = text.count("\n")
        assert all(p.file == SOURCE and 1 <= p.line <= lines and p.column >= 1 for p in exc.problems)
        assert all("\n" not in p.message for p in exc.problems)
    else:
        assert directive in {"", "%YAML 1.2\n---\n"}, "only YAML 1.2 is read"
        if field == "auto_build":
            assert value in {"true", "True", "TRUE", "false", "False", "FALSE"}
            assert intent.auto_build is (value.lower() == "true")
        if field == "tier":
            assert tag in {"", "!!int "}
            assert intent.tier == _as_int(value)


def _as_int(text: str) -> int:
    cleaned = text.replace("_", "")
    body = cleaned.lstrip("+-")
    value = int(body, 0) if body[:2] in ("0x", "0o", "0b") else int(body)
    return -value if cleaned.startswith("-") else value


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.integers(33, 3000), st.sampled_from(["[", "{a: ", "- "]))
def test_any_nesting_past_the_limit_is_refused_never_a_crash(depth: int, opening: str) -> None:
    if opening == "- ":
        nested = "".join("  " * level + "-\n" for level in range(min(depth, 300)))
    else:
        nested = opening * depth + ("]" if opening == "[" else "}") * depth
    with pytest.raises(InvalidIntent) as caught:
        load_intent("service_name: demo\npurpose: Deep\nresources:\n" + nested + "\n", source=SOURCE)
    assert caught.value.first.line >= 3
