"""Loading intent files: valid ones become Intents; every kind of bad file gets a positioned, plain error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.intents import (
    DEFAULT_MAX_BYTES,
    HttpMethod,
    InvalidIntent,
    Priority,
    Storage,
    load_intent,
    load_intent_file,
)
from tests.conftest import EXAMPLES

SOURCE = "intents/demo.yaml"
MINIMAL = "service_name: demo\npurpose: Show the loader working\n"


def problems(text: str | bytes, **kwargs: int) -> list[tuple[int, int, str, str]]:
    with pytest.raises(InvalidIntent) as caught:
        load_intent(text, source=SOURCE, **kwargs)
    for problem in caught.value.problems:
        assert problem.file == SOURCE
    return [(p.line, p.column, p.field, p.message) for p in caught.value.problems]


def only(text: str | bytes, **kwargs: int) -> tuple[int, int, str, str]:
    found = problems(text, **kwargs)
    assert len(found) == 1, found
    return found[0]


# -- valid intents ------------------------------------------------------------------------------------------


def test_minimal_intent_gets_the_defaults() -> None:
    intent = load_intent(MINIMAL, source=SOURCE)
    assert intent.service_name == "demo"
    assert intent.priority is Priority.NORMAL
    assert intent.tier == 2
    assert intent.auto_build is True
    assert intent.storage is Storage.MEMORY
    assert intent.resources == [] and intent.endpoints == [] and intent.dependencies == []


@pytest.mark.parametrize("path", sorted((EXAMPLES / "intents").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_intent_is_valid(path: Path) -> None:
    intent = load_intent_file(path)
    assert intent.service_name == path.stem


def test_structured_hints_are_typed() -> None:
    intent = load_intent_file(EXAMPLES / "intents" / "hello-world.yaml")
    assert intent.resources[0].name == "greeting"
    assert intent.resources[0].required == ["language", "message"]
    assert intent.endpoints[0].method is HttpMethod.GET
    assert intent.has_structured_hints()


def test_lowercase_http_methods_are_accepted() -> None:
    text = MINIMAL + "endpoints:\n  - method: post\n    path: /items/{id}/archive\n"
    assert load_intent(text, source=SOURCE).endpoints[0].method is HttpMethod.POST


def test_byte_order_mark_and_comments_are_fine() -> None:
    assert load_intent(b"\xef\xbb\xbf# hello\n" + MINIMAL.encode(), source=SOURCE).service_name == "demo"


def test_rule_variables_are_plain_json() -> None:
    variables = load_intent(MINIMAL + "priority: high\n", source=SOURCE).rule_variables()
    assert variables["priority"] == "high"
    assert variables["service_name"] == "demo"


# -- YAML-level problems ------------------------------------------------------------------------------------


def test_duplicate_key_names_both_lines() -> None:
    line, column, field, message = only(MINIMAL + "purpose: again\n")
    assert (line, column, field) == (3, 1, "purpose")
    assert "duplicate key 'purpose'" in message and "line 2" in message


def test_tab_indentation_is_refused_with_its_position() -> None:
    line, column, _, message = only(MINIMAL + "resources:\n\t- name: x\n")
    assert (line, column) == (4, 1)
    assert "tab" in message


def test_a_list_is_not_an_intent() -> None:
    line, column, _, message = only("- service_name: demo\n- purpose: x\n")
    assert (line, column) == (1, 1)
    assert "mapping" in message and "list" in message


def test_a_scalar_is_not_an_intent() -> None:
    assert "single value" in only("just some text\n")[3]


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", "---\n"])
def test_empty_files_are_refused(text: str) -> None:
    assert "empty" in only(text)[3]


def test_invalid_utf8_names_line_and_column() -> None:
    line, column, _, message = only(b"service_name: demo\npurpose: caf\xe9\n")
    assert (line, column) == (2, 13)
    assert "UTF-8" in message


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['true']",
        "!!python/name:os.system",
        "!custom thing",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
    ],
)
def test_non_standard_tags_are_refused_never_constructed(tag: str, tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    text = MINIMAL + f"blueprint_context: {tag}\n".replace("'true'", f"'touch {marker}'")
    line, column, _, message = only(text)
    assert line == 3 and column == 20
    assert "not allowed" in message
    assert not marker.exists()


def test_alias_bomb_is_refused_before_expansion() -> None:
    layers = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[index]
        layers.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    message = only("\n".join(layers) + "\n")[3]
    assert "alias bomb" in message


def test_a_few_aliases_are_fine_where_the_model_allows() -> None:
    text = MINIMAL + "dependencies: &deps [billing]\n"
    assert load_intent(text, source=SOURCE).dependencies == ["billing"]


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    # Invalid YAML past the limit: if it were parsed, the error would be a syntax error instead.
    path.write_bytes(MINIMAL.encode() + b"x: [" * (DEFAULT_MAX_BYTES // 4))
    with pytest.raises(InvalidIntent) as caught:
        load_intent_file(path)
    assert "at most 262144 bytes" in caught.value.first.message


def test_size_limit_is_configurable() -> None:
    assert "at most 10 bytes" in only(MINIMAL, max_bytes=10)[3]


def test_syntax_error_has_position() -> None:
    line, column, _, message = only("service_name: [demo\npurpose: x\n")
    assert line == 2
    assert column > 0
    assert message.startswith("YAML syntax error")


def test_two_documents_are_refused() -> None:
    assert "more than one YAML document" in only(MINIMAL + "---\n" + MINIMAL)[3]


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(InvalidIntent) as caught:
        load_intent_file(tmp_path / "nope.yaml")
    assert "cannot read" in caught.value.first.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int abc", "'!!int abc' is not an integer"),
        ("!!float abc", "'!!float abc' is not a number"),
        ("!!int 1:00", "'!!int 1:00' is not an integer"),
        ("!!int '2x'", "'!!int 2x' is not an integer"),
        ("!!null x", "'!!null x' is not null"),
        ("-_", "'-_' is not an integer"),
        ("9" * 5000, "is too long for a number (at most 64 characters)"),
        ("!!float " + "9" * 5000, "is too long for a number (at most 64 characters)"),
    ],
)
def test_a_value_that_is_not_what_its_tag_says_is_a_positioned_problem(value: str, message: str) -> None:
    assert only(MINIMAL + f"tier: {value}\n")[:3] == (3, 7, "tier")
    assert only(MINIMAL + f"tier: {value}\n")[3].endswith(message)


@pytest.mark.parametrize(("value", "tier"), [("!!int 3", 3), ("!!int 0x3", 3), ("0o3", 3), ("017", 17)])
def test_tagged_and_prefixed_integers_mean_what_they_say(value: str, tier: int) -> None:
    if tier > 3:
        assert only(MINIMAL + f"tier: {value}\n")[3] == "must be 0, 1, 2 or 3, got 17"
    else:
        assert load_intent(MINIMAL + f"tier: {value}\n", source=SOURCE).tier == tier


@pytest.mark.parametrize("value", ["!!bool yes", "!!bool maybe", "!!bool on", "!!bool 1", "yes", "on"])
def test_only_true_or_false_is_a_boolean(value: str) -> None:
    line, column, field, message = only(MINIMAL + f"auto_build: {value}\n")
    assert (line, column, field) == (3, 13, "auto_build")
    assert "true or false" in message


@pytest.mark.parametrize("value", ["!!bool true", "True", "FALSE"])
def test_yaml_12_booleans_load(value: str) -> None:
    expected = value.split()[-1].lower() == "true"
    assert load_intent(MINIMAL + f"auto_build: {value}\n", source=SOURCE).auto_build is expected


@pytest.mark.parametrize("body", ["tier: 1:00\n", "auto_build: yes\n", "tier: 017\n", "tier: 1\n"])
def test_yaml_11_is_refused_at_its_directive(body: str) -> None:
    line, column, _, message = only("%YAML 1.1\n---\n" + MINIMAL + body)
    assert (line, column) == (1, 1)
    assert message == "YAML 1.1 is not supported; remove the %YAML directive (files are read as YAML 1.2)"


def test_an_explicit_yaml_12_directive_is_fine() -> None:
    assert load_intent("%YAML 1.2\n---\n" + MINIMAL, source=SOURCE).service_name == "demo"


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_refused_before_it_is_composed(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    text = MINIMAL + "resources: " + opening * 5000 + closing * 5000 + "\n"
    line, column, _, message = only(text)
    assert line == 3 and 12 + 31 * len(opening) <= column <= 12 + 32 * len(opening)
    assert message == "the document nests deeper than 32 levels"


def test_a_control_character_is_one_line_with_its_position() -> None:
    line, column, _, message = only("service_name: demo\npurpose: ab\x00c\n")
    assert (line, column) == (2, 12)
    assert message.startswith("the character U+0000 is not allowed in YAML")
    assert "\n" not in message


# -- model-level problems -----------------------------------------------------------------------------------


def test_unknown_fields_are_errors_that_list_the_allowed_ones() -> None:
    line, column, field, message = only(MINIMAL + "owner: me\n")
    assert (line, column, field) == (3, 1, "owner")
    assert "unknown field 'owner'" in message and "service_name" in message


def test_unknown_field_in_a_resource_lists_resource_fields() -> None:
    text = MINIMAL + "resources:\n  - name: note\n    fields: {text: string}\n    color: red\n"
    line, _, field, message = only(text)
    assert (line, field) == (6, "resources.0.color")
    assert "allowed: belongs_to, fields, name, required, seed" in message


def test_missing_required_field() -> None:
    line, _, field, message = only("service_name: demo\n")
    assert (line, field) == (1, "purpose")
    assert message == "missing required field 'purpose'"


def test_wrong_types_are_named_in_words() -> None:
    found = problems("service_name: demo\npurpose: 3\ntier: '2'\nauto_build: yes\npriority: urgent\n")
    by_field = {field: (line, message) for line, _, field, message in found}
    assert by_field["purpose"] == (2, "expected text, got 3 (a number)")
    assert by_field["tier"] == (3, "expected a whole number, got '2' (text)")
    assert by_field["auto_build"] == (4, "expected true or false, got 'yes' (text)")
    assert by_field["priority"][0] == 5
    assert "'low', 'normal', 'high' or 'critical'" in by_field["priority"][1]


@pytest.mark.parametrize("tier", [-1, 4, 10])
def test_tier_is_between_0_and_3(tier: int) -> None:
    line, _, field, _ = only(MINIMAL + f"tier: {tier}\n")
    assert (line, field) == (3, "tier")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("../etc/passwd", "path characters"),
        ("a/b", "path characters"),
        ("my.service", "path characters"),
        ("Hello", "lowercase"),
        ("x" * 64, "at most 63"),
        ("-leading", "DNS label"),
        ("trailing-", "DNS label"),
        ("under_score", "DNS label"),
        ("localhost", "reserved"),
        ("intentops", "reserved"),
    ],
)
def test_service_name_must_be_a_dns_label(name: str, words: str) -> None:
    line, column, field, message = only(f"service_name: '{name}'\npurpose: A test service\n")
    assert (line, column, field) == (1, 15, "service_name")
    assert words in message


def test_resource_required_must_name_its_fields() -> None:
    text = MINIMAL + "resources:\n  - name: note\n    fields: {text: string}\n    required: [text, body]\n"
    assert "body" in only(text)[3]


def test_resource_field_types_are_checked() -> None:
    text = MINIMAL + "resources:\n  - name: note\n    fields: {text: str}\n"
    line, _, field, message = only(text)
    assert (line, field) == (5, "resources.0.fields.text")
    assert "'string', 'integer', 'number', 'boolean', 'datetime' or 'url'" in message


def test_resource_fields_may_not_shadow_generated_ones() -> None:
    text = MINIMAL + "resources:\n  - name: note\n    fields: {id: integer}\n"
    assert "reserved" in only(text)[3]


def test_endpoint_path_may_not_traverse() -> None:
    text = MINIMAL + "endpoints:\n  - {method: GET, path: /a/../../b}\n"
    assert only(text)[2] == "endpoints.0.path"


def test_endpoint_must_name_a_declared_resource() -> None:
    text = MINIMAL + "endpoints:\n  - {method: GET, path: /x, resource: ghost}\n"
    assert "'ghost' is not declared" in only(text)[3]


def test_a_service_cannot_depend_on_itself() -> None:
    assert "itself" in only(MINIMAL + "dependencies: [demo]\n")[3]


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    found = problems("service_name: Demo\npurpose: 3\nowner: me\n")
    assert [line for line, *_ in found] == [1, 2, 3]
