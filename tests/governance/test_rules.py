"""CEL rules: compile errors a policy author can act on, bounded evaluation, errors as outcomes."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.governance import PolicyLoadError, PolicySet, load_policy_sources
from pipeline.governance.rules import RuleError, RuleLimits, RuleOutcome, compile_rule
from pipeline.governance.variables import known_variables

KNOWN = known_variables()
VALUES = {
    "service_name": "notes",
    "purpose": "optimize the queue",
    "tier": 0,
    "alignment_score": 0.95,
    "changed_files": ["intents/notes.yaml"],
    "resources": [{"name": "note", "fields": {"text": "string"}, "required": []}],
}


def evaluate(rule: str, **overrides: object) -> tuple[bool, str]:
    outcome = compile_rule(rule, known_names=KNOWN).evaluate({**VALUES, **overrides})
    return outcome.matched, outcome.error


@pytest.mark.parametrize(
    ("rule", "matched"),
    [
        ("tier == 0", True),
        ("alignment_score >= 0.90 AND purpose.contains('optimize')", True),
        ("alignment_score >= 0.96", False),
        ("changed_files.exists(f, f.startsWith('intents/'))", True),
        ("resources.all(r, r.name == 'note') && size(resources) == 1", True),
        ("service_name in ['notes', 'bookmarks']", True),
        ("purpose.matches('^opt.*queue$')", True),
    ],
)
def test_rules_evaluate_against_the_variables(rule: str, matched: bool) -> None:
    assert evaluate(rule) == (matched, "")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("tierr == 0", "unknown variable tierr (known: alignment_method, alignment_score, author,"),
        ("tier ==", "CEL syntax error at column 6 of the rule, near '=='"),
        ("", "the rule is empty"),
        ("purpose == 'open", "unterminated string literal"),
        ("x" * 2001, "the rule is 2001 characters long; rules may be at most 2000"),
    ],
)
def test_bad_rules_are_refused_when_loaded(rule: str, message: str) -> None:
    with pytest.raises(RuleError) as raised:
        compile_rule(rule, known_names=KNOWN)
    assert message in str(raised.value)


def test_names_bound_by_macros_are_not_unknown_variables() -> None:
    rule = compile_rule("changed_files.exists(f, f.endsWith('.yaml')) && tier == 0", known_names=KNOWN)
    assert rule.names == {"changed_files", "tier"}
    with pytest.raises(RuleError, match="unknown variable f "):
        compile_rule("changed_files.exists(f, true) && f == 'x'", known_names=KNOWN)


@pytest.mark.parametrize(
    ("rule", "overrides", "message"),
    [
        ("tier == 0", {"tier": "0"}, "type mismatch"),
        ("purpose + 1 == 2", {}, "type mismatch"),
        ("tier", {}, "the rule gave 0, not true or false"),
        ("purpose", {}, "the rule gave 'optimize the queue', not true or false"),
        ("1 / (tier - tier) == 1", {}, "divide by zero"),
    ],
)
def test_evaluation_errors_are_outcomes_and_never_a_match(
    rule: str, overrides: dict[str, object], message: str
) -> None:
    matched, error = evaluate(rule, **overrides)
    assert not matched
    assert message in error


def test_a_variable_missing_at_evaluation_is_an_error() -> None:
    rule = compile_rule("alignment_score < 0.70", known_names=KNOWN)
    outcome = rule.evaluate({"tier": 0})
    assert not outcome.matched
    assert outcome.error == "unknown variable or function 'alignment_score'"


def test_evaluation_is_bounded_by_a_deterministic_step_budget() -> None:
    thirty = "[" + ",".join(["1"] * 30) + "]"
    explosive = f"{thirty}.map(a, {thirty}.map(b, {thirty}.map(c, {thirty}.map(d, 1)))).size() > 0"
    rule = compile_rule(explosive, known_names=KNOWN, limits=RuleLimits(max_comprehension_nesting=4))
    started = time.monotonic()
    outcomes = {rule.evaluate(VALUES, RuleLimits(max_steps=20_000)) for _ in range(3)}
    assert time.monotonic() - started < 30  # a sanity bound only: 30**4 inner evaluations would take minutes
    assert len(outcomes) == 1  # the same every time, whatever the load
    (outcome,) = outcomes
    assert not outcome.matched
    assert outcome.error == "the rule ran out of its evaluation budget (20000 steps); simplify it"


def test_the_wall_clock_deadline_backs_up_the_budget() -> None:
    thirty = "[" + ",".join(["1"] * 30) + "]"
    rule = compile_rule(f"{thirty}.map(a, {thirty}.map(b, {thirty}.map(c, 1))).size() > 0", known_names=KNOWN)
    outcome = rule.evaluate(VALUES, RuleLimits(max_steps=10**9, timeout_seconds=0.0))
    assert outcome.error == "the rule took longer than 0 s to evaluate; simplify it"


def test_budget_is_enough_for_a_large_push(shipped_floor: PolicySet) -> None:
    (loaded,) = [
        p for p in shipped_floor.policies if p.policy.name == "Policy and blueprint changes need approval"
    ]
    files = [f"services/x/file{i}.py" for i in range(2000)]
    assert loaded.rule.evaluate({**VALUES, "changed_files": files}) == RuleOutcome(False)
    assert loaded.rule.evaluate({**VALUES, "changed_files": [*files, "policies/p.yaml"]}) == RuleOutcome(True)


def doubling(levels: int) -> str:
    """`purpose` doubled inside `levels` nested comprehensions: 2**levels copies in a few steps per level."""
    names = ["purpose", *(f"v{level}" for level in range(1, levels + 1))]
    rule = f"{names[-1]}.size() > 0"
    for outer, inner in reversed(list(zip(names, names[1:], strict=False))):
        rule = f"[{outer} + {outer}].exists({inner}, {rule})"
    return rule


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("!" * 1500 + "true", "the rule nests too deeply"),
        ("-" * 1500 + "1 == 1", "the rule nests too deeply"),
        ("{'x': {}}" + ".x" * 700 + " == 1", "the rule nests too deeply"),
        (doubling(24), "the rule nests comprehensions (exists, all, map, ...) 4 deep; at most 3"),
        (
            " && ".join(["changed_files.exists(f, f == 'x')"] * 9),
            "the rule uses 9 comprehensions (exists, all, exists_one, map, filter); at most 8",
        ),
    ],
)
def test_rules_that_would_recurse_or_multiply_without_bound_are_refused_when_loaded(
    rule: str, message: str
) -> None:
    with pytest.raises(RuleError) as raised:
        compile_rule(rule, known_names=KNOWN)
    assert message in str(raised.value)


def test_a_policy_with_such_a_rule_is_refused_with_its_file_and_line() -> None:
    text = f'- name: x\n  action: blocked\n  reason: r\n  rule: "{"!" * 1500}true"\n'.encode()
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_sources({"p.yaml": text})
    assert str(raised.value).startswith("p.yaml:4:9: policy 'x': rule: the rule nests too deeply")


def test_concatenation_is_charged_for_what_it_builds() -> None:
    limits = RuleLimits(max_comprehension_nesting=10, max_comprehensions=10)
    rule = compile_rule(doubling(10), known_names=KNOWN, limits=limits)
    # 2**10 copies of a 4 000-character purpose would be 4 MB in about a hundred steps; charged, it stops.
    outcome = rule.evaluate({**VALUES, "purpose": "x" * 4000}, RuleLimits(max_steps=20_000))
    assert outcome == RuleOutcome(
        False, "the rule ran out of its evaluation budget (20000 steps); simplify it"
    )
    # The same rule on a short purpose stays well inside the budget.
    assert rule.evaluate({**VALUES, "purpose": "ab"}, RuleLimits(max_steps=20_000)) == RuleOutcome(True)


def test_the_deepest_nesting_allowed_still_evaluates() -> None:
    deepest = "(" * 22 + "tier == 0" + ")" * 22
    assert compile_rule(deepest, known_names=KNOWN).evaluate(VALUES) == RuleOutcome(True)
    unary = "!" * 230 + "true"
    assert compile_rule(unary, known_names=KNOWN).evaluate(VALUES) == RuleOutcome(True)


def test_compiling_the_same_rule_twice_parses_it_once() -> None:
    first = compile_rule("tier == 3 || tier == 2", known_names=KNOWN)
    second = compile_rule("tier == 3 || tier == 2", known_names=KNOWN)
    assert first.ast is second.ast


# -- properties --------------------------------------------------------------------------------------------

PIECES = st.sampled_from(
    [*"abtier_ ()[]{}.,:?!&|=<>+-*/%'\"\\019", "AND", "OR", "NOT", "tier", "purpose", "exists", "map"]
    + ["has", "in", "size", "null", "true", " && ", "alignment_score", "changed_files"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=25).map("".join))
def test_any_text_either_compiles_or_is_refused_and_evaluation_never_raises(rule: str) -> None:
    try:
        compiled = compile_rule(rule, known_names=KNOWN)
    except RuleError:
        return
    outcome = compiled.evaluate(VALUES)
    assert outcome.error == "" or not outcome.matched
