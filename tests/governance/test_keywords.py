"""The seed's AND / OR / NOT keywords: translated to CEL by tokens, never inside string literals."""

from __future__ import annotations

import contextlib
import string

import celpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.governance.keywords import RuleSyntaxError, tokenize, translate
from pipeline.governance.rules import compile_rule

SEED_RULES = {
    "service_name.contains('spec-builder') OR service_name.contains('governance') "
    "OR service_name.contains('build-executor')": "service_name.contains('spec-builder') || "
    "service_name.contains('governance') || service_name.contains('build-executor')",
    "alignment_score >= 0.90 AND purpose.contains('optimize') AND tier == 0": (
        "alignment_score >= 0.90 && purpose.contains('optimize') && tier == 0"
    ),
    "alignment_score < 0.70": "alignment_score < 0.70",
}


@pytest.mark.parametrize(("rule", "cel"), SEED_RULES.items())
def test_the_seed_rules_translate_to_plain_cel(rule: str, cel: str) -> None:
    assert translate(rule) == cel


@pytest.mark.parametrize(
    ("rule", "cel"),
    [
        # NOT binds like Python's `not`: looser than comparisons, tighter than AND / OR.
        ("NOT tier == 0", "!(tier == 0)"),
        ("NOT tier == 0 AND a", "!(tier == 0) && a"),
        ("NOT (a OR b)", "!((a || b))"),
        ("NOT NOT a", "!(!(a))"),
        ("a ? NOT b : c", "a ? !(b) : c"),
        ("f(NOT a, b)", "f(!(a), b)"),
        ("[NOT a]", "[!(a)]"),
        # Keywords are whole uppercase words, not fields after a dot, not parts of names, not lowercase.
        ("x.AND OR y", "x.AND || y"),
        ("ANDROID OR NOTE", "ANDROID || NOTE"),
        ("a and b or not c", "a and b or not c"),
        # String literals of every kind are left exactly as written.
        ("purpose == 'x AND y' OR NOT p", "purpose == 'x AND y' || !(p)"),
        ('purpose == "NOT \\" OR" AND a', 'purpose == "NOT \\" OR" && a'),
        ("p == r'\\' AND q", "p == r'\\' && q"),
        ("p == '''a\nOR b''' OR q", "p == '''a\nOR b''' || q"),
        ('p == b"AND" OR q', 'p == b"AND" || q'),
    ],
)
def test_translation(rule: str, cel: str) -> None:
    assert translate(rule) == cel


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("purpose == 'open", "unterminated string literal (at column 12)"),
        ('purpose == "a\nb"', "unterminated string literal"),
        ("p == r'abc", "unterminated string literal (at column 6)"),
        ("(a OR b", "'(' is never closed"),
        ("a OR b)", "')' has no matching opening bracket"),
        ("[a)", "')' has no matching opening bracket"),
        ("(" * 40 + "a" + ")" * 40, "brackets nest deeper than 32 levels"),
    ],
)
def test_unreadable_rules_are_refused_with_a_position(rule: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        translate(rule)


# -- properties --------------------------------------------------------------------------------------------

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


def cel_string(value: str) -> str:
    """A double-quoted CEL literal for `value`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped + '"'


@given(text)
def test_tokens_join_back_to_the_rule(rule: str) -> None:
    try:
        tokens = tokenize(rule)
    except RuleSyntaxError:
        return
    assert "".join(token.text for token in tokens) == rule


@settings(max_examples=60, deadline=None)
@given(text)
def test_string_literals_are_never_translated(value: str) -> None:
    literal = cel_string(value)
    rule = f"purpose == {literal} AND NOT (purpose != {literal})"
    assert translate(rule) == f"purpose == {literal} && !((purpose != {literal}))"
    compiled = compile_rule(rule, known_names=frozenset({"purpose"}))
    assert compiled.evaluate({"purpose": value}).matched


@st.composite
def boolean_expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, str]:
    """A random boolean expression over a, b, c in the seed's spelling, and the same in Python."""
    if depth >= 3 or draw(st.booleans()):
        name = draw(st.sampled_from(["a", "b", "c"]))
        if draw(st.booleans()):
            return f"{name} == true", f"{name} == True"
        return name, name
    kind = draw(st.sampled_from(["AND", "OR", "NOT", "()"]))
    left = draw(boolean_expressions(depth + 1))
    if kind == "NOT":
        return f"NOT {left[0]}", f"not {left[1]}"
    if kind == "()":
        return f"({left[0]})", f"({left[1]})"
    right = draw(boolean_expressions(depth + 1))
    python = "and" if kind == "AND" else "or"
    return f"{left[0]} {kind} {right[0]}", f"{left[1]} {python} {right[1]}"


@settings(max_examples=150, deadline=None)
@given(boolean_expressions(), st.booleans(), st.booleans(), st.booleans())
def test_keywords_mean_what_they_mean_in_python(
    expression: tuple[str, str], a: bool, b: bool, c: bool
) -> None:
    rule, python = expression
    values = {"a": a, "b": b, "c": c}
    expected = eval(python, {}, dict(values))  # the Python reading of the same expression
    compiled = compile_rule(rule, known_names=frozenset(values))
    outcome = compiled.evaluate(values)
    assert outcome.error == ""
    assert outcome.matched is expected


@given(text)
def test_translation_is_idempotent(rule: str) -> None:
    try:
        once = translate(rule)
    except RuleSyntaxError:
        return
    assert translate(once) == once


@given(st.text(alphabet=string.ascii_lowercase + " =<>!&|().'0123456789", max_size=60))
def test_rules_without_keywords_are_unchanged(rule: str) -> None:
    with contextlib.suppress(RuleSyntaxError):
        assert translate(rule) == rule


def test_cel_parses_every_translated_seed_rule() -> None:
    environment = celpy.Environment()
    for rule in SEED_RULES:
        environment.compile(translate(rule))
