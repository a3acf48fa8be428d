"""Why a governance decision came out as it did, in numbers, and what would change it.

`explain(decision, variables=...)` reads the decision (every policy with its rule and result, the alignment
score) and the values the rules saw, and says for the policies that decided: each clause of the rule with
its value and threshold ("alignment_score 0.65 < 0.70", 0.05 below), and which single change would turn the
outcome ("alignment_score >= 0.70: 'Block anything misaligned' would not match; then requires_approval").

Pure: no I/O. A decision records its policies' results, not every value its rules read, so values the
caller does not pass (the intent's fields) show as unknown and no what-if is computed from them; the
alignment score and method always come from the decision itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pipeline.governance.alignment import AlignmentMethod
from pipeline.governance.decision import (
    ALIGNMENT_SCORE,
    HEURISTIC_ONLY_INFORMS,
    LEXICAL_ONLY_INFORMS,
    Decision,
    EvaluatedPolicy,
    MatchedPolicy,
    RuleResult,
    _action,
    _Outcome,
)
from pipeline.governance.policy import PolicyAction
from pipeline.governance.rules import CompiledRule, RuleError, compile_rule
from pipeline.governance.variables import known_variables

UNKNOWN = "?"
COMPARISON = re.compile(r"^\s*(?P<left>.+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<right>.+?)\s*$")
IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
NEGATED_IDENTIFIER = re.compile(r"^!\s*(?P<name>[A-Za-z_]\w*)$")
NUMBER = re.compile(r"^-?\d+(?:\.(?P<decimals>\d+))?$")
STRING = re.compile(r"""^(?P<quote>['"])(?P<text>(?:\\.|(?!(?P=quote)).)*)(?P=quote)$""")
FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}
OPPOSITE = {"<": ">=", ">": "<=", "<=": ">", ">=": "<", "==": "!=", "!=": "=="}
# The smallest step past a strict threshold that turns a clause: a hundredth for scores, 1 for whole numbers.
STEP_DECIMALS = 2

WITHHELD_CHANGE = (
    "an alignment scored by a model (Claude) instead of {method}: '{policy}' would decide; then {action}"
)
FINDINGS_CHANGE = "without the text addressed to the scorer or the reviewer in {fields}: then {action}"
NO_MATCH_CHANGE = "no policy matched, so a person approves; no single change of a known value alters that"
ERRORS_CHANGE = "{count} rule error(s) to fix (see the decision): until then a person approves"
CLAUSE_FLIP = "{text}: '{policy}' would {verb}; then {action}"
MODEL_ALIGNMENT = "an alignment scored by a model (Claude)"
CLAUSE_FLIP_UNKNOWN = "{text}: '{policy}' would {verb}"


@dataclass(frozen=True)
class Clause:
    """One part of a rule joined by `&&` (or `||`), with the values it read."""

    text: str
    """The clause as CEL (`alignment_score < 0.70`)."""
    holds: bool | None
    """Its value for this intent; None when a value it reads is unknown."""
    name: str = ""
    """The variable it compares, when it compares one variable with a literal."""
    value: Any = None
    operator: str = ""
    threshold: Any = None
    gap: float | None = None
    """How far the value is from turning the clause (numbers only)."""
    decimals: int = 0

    @property
    def line(self) -> str:
        """`alignment_score 0.65 < 0.70 (0.05 below)`; `purpose.contains('x'): false`; `tier >= 2: ?`."""
        if self.name and self.holds is not None and isinstance(self.threshold, bool):
            return f"{self.text}: {self.name} is {_show(self.value, 0)}"
        if self.name and self.holds is not None:
            value, threshold = _show(self.value, self.decimals), _show(self.threshold, self.decimals)
            verdict = "" if self.holds else " is false"
            gap = f" ({_show(self.gap, self.decimals)} {self._side})" if self.gap else ""
            return f"{self.name} {value} {self.operator} {threshold}{verdict}{gap}"
        return f"{self.text}: {_word(self.holds)}"

    @property
    def _side(self) -> str:
        return "below" if _number(self.value) < _number(self.threshold) else "above"


@dataclass(frozen=True)
class PolicyExplanation:
    """A policy as it weighed in: its clauses (alternatives of `||` apart) and its part in the outcome."""

    name: str
    action: str
    result: str
    source: str
    rule: str
    alternatives: tuple[tuple[Clause, ...], ...]
    withheld: str = ""

    @property
    def clauses(self) -> tuple[Clause, ...]:
        return tuple(clause for alternative in self.alternatives for clause in alternative)


@dataclass(frozen=True)
class Change:
    """One change that would give another outcome, and that outcome when it can be computed."""

    text: str
    outcome: str = ""


@dataclass(frozen=True)
class Explanation:
    action: str
    summary: str
    deciding: tuple[PolicyExplanation, ...]
    """The policies that made the outcome what it is (for auto_approve and blocked: the matching ones of that
    action; for requires_approval: those asking for approval, and any withheld auto-approval)."""
    changes: tuple[Change, ...]
    """What would change the outcome, one change at a time."""
    alignment: str
    """`0.65 (lexical)`, or `not scored`."""

    @property
    def empty(self) -> bool:
        return not self.deciding and not self.changes


def explain(decision: Decision, *, variables: Mapping[str, Any] | None = None) -> Explanation:
    """The decision in numbers. `variables`: the values its rules saw (the intent's fields and computed
    ones, as `pipeline.governance.variables.rule_variables` gives them); the decision's alignment wins."""
    known = _known_values(decision, variables or {})
    policies = [_policy(p, known) for p in decision.evaluated]
    deciding = tuple(p for p in policies if _decides(decision, p))
    return Explanation(
        action=decision.action.value,
        summary=decision.summary,
        deciding=deciding,
        changes=tuple(_changes(decision, policies, known)),
        alignment=_alignment(decision),
    )


def _known_values(decision: Decision, variables: Mapping[str, Any]) -> dict[str, Any]:
    known = dict(variables)
    known.pop(ALIGNMENT_SCORE, None)
    if decision.alignment.score is not None:
        known[ALIGNMENT_SCORE] = float(decision.alignment.score)
    if decision.alignment.method is not None:
        known["alignment_method"] = decision.alignment.method.value
    return known


def _alignment(decision: Decision) -> str:
    score, method = decision.alignment.score, decision.alignment.method
    if score is None:
        return "not scored"
    return f"{score:.2f} ({method.value})" if method is not None else f"{score:.2f}"


def _decides(decision: Decision, policy: PolicyExplanation) -> bool:
    if policy.result != RuleResult.MATCHED.value:
        return False
    if policy.withheld:
        return decision.action is PolicyAction.REQUIRES_APPROVAL
    return policy.action == decision.action.value


# --- rules cut into clauses -------------------------------------------------------------------------


def _policy(evaluated: EvaluatedPolicy, known: Mapping[str, Any]) -> PolicyExplanation:
    alternatives = tuple(
        tuple(_clause(text, known) for text in conjunction) for conjunction in _alternatives(evaluated.rule)
    )
    alternatives = _inferred(alternatives, evaluated.result)
    return PolicyExplanation(
        name=evaluated.name,
        action=evaluated.action.value,
        result=evaluated.result.value,
        source=evaluated.source,
        rule=evaluated.rule,
        alternatives=alternatives,
        withheld=evaluated.withheld,
    )


def _inferred(
    alternatives: tuple[tuple[Clause, ...], ...], result: RuleResult
) -> tuple[tuple[Clause, ...], ...]:
    """What the recorded result says of clauses whose values are not known: every clause of a matching
    rule without alternatives held; the single clause of a rule that did not match did not."""
    if len(alternatives) != 1:
        return alternatives
    (only,) = alternatives
    if result is RuleResult.MATCHED:
        return (tuple(replace(c, holds=True) if c.holds is None else c for c in only),)
    if result is RuleResult.NOT_MATCHED and len(only) == 1 and only[0].holds is None:
        return ((replace(only[0], holds=False),),)
    return alternatives


def _alternatives(rule: str) -> list[list[str]]:
    """The rule as alternatives (`||`) of conjunctions (`&&`), at the top level only; a rule that does not
    compile is one clause."""
    compiled = _compiled(rule)
    cel = compiled.cel if compiled is not None else rule
    return [_split(_unwrap(part), "&&") for part in _split(_unwrap(cel), "||")]


def _compiled(text: str) -> CompiledRule | None:
    try:
        return compile_rule(text, known_names=known_variables())
    except RuleError:
        return None


def _tokens(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth) for each character outside string literals."""
    depth, quote, index = 0, "", 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        else:
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
            yield index, char, depth
        index += 1


def _split(text: str, operator: str) -> list[str]:
    parts, start = [], 0
    for index, char, depth in _tokens(text):
        if depth == 0 and char == operator[0] and text[index : index + 2] == operator and index >= start:
            parts.append(text[start:index].strip())
            start = index + 2
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _unwrap(text: str) -> str:
    """`(a && b)` -> `a && b`, as long as the outer brackets enclose the whole text."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        closes = [i for i, char, depth in _tokens(text) if char == ")" and depth == 0]
        if closes != [len(text) - 1]:
            break
        text = text[1:-1].strip()
    return text


def _clause(text: str, known: Mapping[str, Any]) -> Clause:
    holds = _evaluate(text, known)
    compared = _comparison(text)
    if compared is not None:
        name, operator, literal, decimals = compared
        if name in known and _comparable(known[name], literal):
            value = known[name]
            return Clause(
                text,
                holds,
                name,
                value,
                operator,
                literal,
                _gap(value, operator, literal, holds),
                decimals,
            )
    negated = NEGATED_IDENTIFIER.match(text)
    name = negated.group("name") if negated else text.strip() if IDENTIFIER.match(text.strip()) else ""
    if name and isinstance(known.get(name), bool):
        return Clause(text, holds, name, known[name], "==", not negated, None)
    return Clause(text, holds)


def _evaluate(text: str, known: Mapping[str, Any]) -> bool | None:
    compiled = _compiled(text)
    if compiled is None or not compiled.names <= set(known):
        return None
    outcome = compiled.evaluate(known)
    return None if outcome.error else outcome.matched


def _comparison(text: str) -> tuple[str, str, Any, int] | None:
    """(variable, operator, literal, decimals written) for `name OP literal` or `literal OP name`."""
    found = COMPARISON.match(text)
    if found is None:
        return None
    left, operator, right = found.group("left"), found.group("op"), found.group("right")
    if IDENTIFIER.match(left) and (written := _literal(right)) is not None:
        return left, operator, *written
    if IDENTIFIER.match(right) and (written := _literal(left)) is not None:
        return right, FLIPPED[operator], *written
    return None


def _literal(text: str) -> tuple[Any, int] | None:
    number = NUMBER.match(text)
    if number:
        decimals = len(number.group("decimals") or "")
        return (float(text) if "." in text else int(text)), decimals
    string = STRING.match(text)
    if string:
        return string.group("text"), 0
    if text in ("true", "false"):
        return text == "true", 0
    return None


def _comparable(value: Any, literal: Any) -> bool:
    if isinstance(literal, bool) or isinstance(value, bool):
        return isinstance(literal, bool) and isinstance(value, bool)
    if isinstance(literal, int | float):
        return isinstance(value, int | float) and math.isfinite(float(value))
    return isinstance(value, str) and isinstance(literal, str)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def _gap(value: Any, operator: str, threshold: Any, holds: bool | None) -> float | None:
    """How far `value` must move for the clause to turn (0 for ==/!= and non-numbers: no distance)."""
    if operator in ("==", "!=") or holds is None or math.isnan(_number(value)):
        return None
    distance = abs(_number(value) - _number(threshold))
    return round(distance, 10) or None


# --- what would change the outcome --------------------------------------------------------------------


def _changes(
    decision: Decision, policies: Sequence[PolicyExplanation], known: Mapping[str, Any]
) -> list[Change]:
    changes: list[Change] = []
    if decision.action is PolicyAction.AUTO_APPROVE:
        return changes  # nothing is more lenient
    if decision.errors and decision.action is not PolicyAction.BLOCKED:
        changes.append(Change(ERRORS_CHANGE.format(count=len(decision.errors))))
    for policy in policies:
        changes.extend(_policy_changes(decision, policy, policies, known))
    if decision.findings and decision.action is not PolicyAction.BLOCKED:
        without = _outcome(decision, policies, findings=False)
        fields = ", ".join(sorted({f.field for f in decision.findings}))
        changes.append(Change(FINDINGS_CHANGE.format(fields=fields, action=without), without))
    if not changes and decision.action is PolicyAction.REQUIRES_APPROVAL and not decision.matched:
        changes.append(Change(NO_MATCH_CHANGE))
    return _unique(changes)


def _policy_changes(
    decision: Decision,
    policy: PolicyExplanation,
    policies: Sequence[PolicyExplanation],
    known: Mapping[str, Any],
) -> Iterator[Change]:
    """A matching policy that decided, stopped from matching; a policy that did not match but would give
    another outcome, made to match; a withheld auto-approval, given a model's score."""
    matched = policy.result == RuleResult.MATCHED.value
    if matched and policy.withheld:
        granted = [replace(p, withheld="") if p is policy else p for p in policies]
        outcome = _outcome(decision, granted)
        if outcome != decision.action.value:
            method = decision.alignment.method.value if decision.alignment.method else "this scorer"
            yield Change(WITHHELD_CHANGE.format(method=method, policy=policy.name, action=outcome), outcome)
        return
    if matched and _decides(decision, policy):
        yield from _stops(decision, policy, policies, known)
    elif policy.result == RuleResult.NOT_MATCHED.value and _would_matter(
        decision, PolicyAction(policy.action)
    ):
        yield from _starts(decision, policy, policies, known)


def _would_matter(decision: Decision, action: PolicyAction) -> bool:
    """A policy that does not match makes the outcome more lenient by matching only when it could
    auto-approve what now waits for a person (a stricter one only ever makes it stricter)."""
    return action is PolicyAction.AUTO_APPROVE and decision.action is PolicyAction.REQUIRES_APPROVAL


def _stops(
    decision: Decision,
    policy: PolicyExplanation,
    policies: Sequence[PolicyExplanation],
    known: Mapping[str, Any],
) -> Iterator[Change]:
    """Single-clause changes that stop a deciding policy from matching. Stopping a match needs every true
    alternative broken, so only a rule with one alternative is turned off clause by clause."""
    if len(policy.alternatives) != 1 or not all(c.holds for c in policy.alternatives[0]):
        return
    alone = sum(1 for p in policies if _decides(decision, p)) == 1
    for clause in policy.alternatives[0]:
        needed = _needed(clause)
        if needed is None:
            continue
        text, value = needed
        outcome = (
            _what_if(decision, policies, {**known, clause.name: value}, {clause.name})
            if value is not None
            else ""
        )
        if outcome and PolicyAction(outcome).severity >= decision.action.severity:
            continue  # the outcome stays (another policy holds it) or gets stricter: no way forward
        if not outcome and not alone:
            continue  # another policy may hold the outcome: what the change does cannot be told
        template = CLAUSE_FLIP if outcome else CLAUSE_FLIP_UNKNOWN
        yield Change(
            template.format(text=text, policy=policy.name, verb="not match", action=outcome), outcome
        )


def _starts(
    decision: Decision,
    policy: PolicyExplanation,
    policies: Sequence[PolicyExplanation],
    known: Mapping[str, Any],
) -> Iterator[Change]:
    """The change that makes a more lenient policy match: every false clause of its nearest alternative
    (all of whose values are known) turned at once, plus a model's alignment when a lexical one would be
    withheld."""
    alternatives = [a for a in policy.alternatives if all(c.holds is not None for c in a)]
    nearest = min(alternatives, key=lambda a: sum(not c.holds for c in a), default=())
    false = [c for c in nearest if not c.holds]
    needed = [_needed(c) for c in false]
    if not false or any(n is None or n[1] is None for n in needed):
        return
    values = {**known, **{c.name: n[1] for c, n in zip(false, needed, strict=True) if n}}
    names = {c.name for c in false}
    parts = [n[0] for n in needed if n]
    outcome = _what_if(decision, policies, values, names)
    if outcome == decision.action.value and _needs_model(policy, values):
        values = {**values, "alignment_method": AlignmentMethod.CLAUDE.value}
        outcome = _what_if(decision, policies, values, {*names, "alignment_method"})
        parts.append(MODEL_ALIGNMENT)
    if PolicyAction(outcome).severity >= decision.action.severity:
        return
    text = " and ".join(parts)
    yield Change(CLAUSE_FLIP.format(text=text, policy=policy.name, verb="match", action=outcome), outcome)


def _needs_model(policy: PolicyExplanation, known: Mapping[str, Any]) -> bool:
    compiled = _compiled(policy.rule)
    return compiled is not None and bool(_withheld(policy, compiled, known))


def _what_if(
    decision: Decision, policies: Sequence[PolicyExplanation], values: Mapping[str, Any], names: set[str]
) -> str:
    return _outcome(decision, [_reevaluated(p, values, names) for p in policies])


def _needed(clause: Clause) -> tuple[str, Any] | None:
    """What the clause's variable would need to be for it to turn, as words and as a value to try (None
    when no single value can be named: "anything but 'critical'")."""
    if not clause.name or clause.holds is None:
        return None
    if isinstance(clause.threshold, bool) and isinstance(clause.value, bool):
        wanted = not clause.value
        return f"{clause.name} = {_show(wanted, 0)} (now {_show(clause.value, 0)})", wanted
    operator = OPPOSITE[clause.operator] if clause.holds else clause.operator
    now = _show(clause.value, clause.decimals)
    text = f"{clause.name} {operator} {_show(clause.threshold, clause.decimals)} (now {now})"
    if operator == "!=":
        return text, None
    return text, _target(clause, operator)


def _target(clause: Clause, operator: str) -> Any:
    """A value that satisfies `name operator threshold`: the threshold itself, or one step past it."""
    threshold = clause.threshold
    if isinstance(threshold, str):
        return threshold
    whole = isinstance(threshold, int) and isinstance(clause.value, int)
    step: float | int = 1 if whole else 10 ** -max(clause.decimals, STEP_DECIMALS)
    if operator == "<":
        return threshold - step
    if operator == ">":
        return threshold + step
    return threshold


def _reevaluated(policy: PolicyExplanation, values: Mapping[str, Any], names: set[str]) -> PolicyExplanation:
    """The policy with `names` changed: policies that read none of them keep their recorded result."""
    compiled = _compiled(policy.rule)
    if compiled is None or policy.result == RuleResult.ERROR.value:
        return policy
    reads = compiled.names | ({"alignment_method"} if ALIGNMENT_SCORE in compiled.names else set())
    if not names & reads:
        return policy
    if not compiled.names <= set(values):
        return policy
    outcome = compiled.evaluate(values)
    if outcome.error:
        return policy
    if not outcome.matched:
        return replace(policy, result=RuleResult.NOT_MATCHED.value, withheld="")
    return replace(policy, result=RuleResult.MATCHED.value, withheld=_withheld(policy, compiled, values))


def _withheld(policy: PolicyExplanation, compiled: CompiledRule, values: Mapping[str, Any]) -> str:
    """Governance's own rule: an auto_approve policy reading a score that cannot grant does not decide."""
    if policy.action != PolicyAction.AUTO_APPROVE.value or ALIGNMENT_SCORE not in compiled.names:
        return ""
    try:
        method = AlignmentMethod(values.get("alignment_method", ""))
    except ValueError:
        return HEURISTIC_ONLY_INFORMS.format(method="an unknown method")
    if method.can_grant_auto_approval:
        return ""
    return (
        LEXICAL_ONLY_INFORMS
        if method is AlignmentMethod.LEXICAL
        else HEURISTIC_ONLY_INFORMS.format(method=method.value)
    )


def _outcome(decision: Decision, policies: Sequence[PolicyExplanation], *, findings: bool = True) -> str:
    """The action these policy results give, combined by governance's own rule (`decision._action`)."""
    matched = tuple(
        MatchedPolicy(
            name=p.name,
            action=PolicyAction(p.action),
            reason="",
            approvals=0,
            approvers=(),
            source=p.source,
            withheld=p.withheld,
        )
        for p in policies
        if p.result == RuleResult.MATCHED.value
    )
    parts = _Outcome(
        matched=matched,
        errors=decision.errors,
        evaluated=(),
        findings=decision.findings if findings else (),
    )
    action, _summary = _action(parts)
    return action.value


def _unique(changes: list[Change]) -> list[Change]:
    seen: set[str] = set()
    unique = []
    for change in changes:
        if change.text not in seen:
            seen.add(change.text)
            unique.append(change)
    return unique


# --- numbers as people read them ----------------------------------------------------------------------


def _show(value: Any, decimals: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) or (isinstance(value, int) and decimals):
        return f"{float(value):.{max(decimals, STEP_DECIMALS if isinstance(value, float) else 0)}f}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    return UNKNOWN if value is None else str(value)


def _word(holds: bool | None) -> str:
    return UNKNOWN if holds is None else "true" if holds else "false"
