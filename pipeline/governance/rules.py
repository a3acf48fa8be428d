"""Policy rules: CEL (cel-python), compiled once and cached, with bounded size and bounded evaluation.

A rule's shape is bounded when it is loaded (length, nesting, number and nesting of comprehensions), so
evaluation can neither recurse too deeply nor multiply without bound. Evaluation is bounded by a step budget
(CEL syntax nodes visited, counted across macros such as `map` and `exists`, and concatenations charged for
what they build), like cel-go's cost limit: a deterministic bound, so the same rule on the same input always
either finishes or runs out, whatever the machine's load. A generous wall-clock deadline backs it up.
Every failure (unknown variable, type mismatch, non-boolean result, budget) comes back as a value:
`RuleOutcome.error`, never an exception, and never a match.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes

from pipeline.governance.keywords import RuleSyntaxError, translate

# Names CEL itself defines as values (type names usable in `type(x) == int`).
CEL_BUILTIN_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "null"}
)
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

NOT_BOOLEAN = "the rule gave {value}, not true or false"
OUT_OF_STEPS = "the rule ran out of its evaluation budget ({steps} steps); simplify it"
OUT_OF_TIME = "the rule took longer than {seconds:g} s to evaluate; simplify it"
TOO_LONG = "the rule is {length} characters long; rules may be at most {limit}"
TOO_NESTED = "the rule nests too deeply (brackets, or chains of '!', '-' or '.field'); simplify it"
TOO_MANY_COMPREHENSIONS = (
    "the rule uses {count} comprehensions (exists, all, exists_one, map, filter); at most {limit}"
)
COMPREHENSIONS_TOO_NESTED = (
    "the rule nests comprehensions (exists, all, map, ...) {depth} deep; at most {limit}"
)
UNKNOWN_NAMES = "unknown variable{s} {names} (known: {known})"
SYNTAX = "CEL syntax error at column {column} of the rule, near '{near}'"


@dataclass(frozen=True)
class RuleLimits:
    """Bounds on one rule. 200 000 steps cover e.g. `changed_files.exists(...)` with three tests over
    about 3 000 files (~60 steps a file); the wall-clock backstop sits far above the budget's usual time
    so that, in practice, only the deterministic budget ever decides."""

    max_chars: int = 2000
    max_depth: int = 32
    max_steps: int = 200_000
    timeout_seconds: float = 15.0
    max_tree_depth: int = 250
    """Parse-tree levels (a bracket costs ~10, a `!`, `-` or `.field` 1-2): the interpreter recurses once per
    level, so this keeps evaluation far from Python's recursion limit."""
    max_comprehensions: int = 8
    max_comprehension_nesting: int = 3
    """Comprehensions (exists, all, map, ...) multiply work and values with each level they nest."""


DEFAULT_LIMITS = RuleLimits()


class RuleError(ValueError):
    """A rule that cannot be compiled; the message says why in words a policy author understands."""


@dataclass(frozen=True)
class RuleOutcome:
    matched: bool
    error: str = ""


@dataclass(frozen=True)
class CompiledRule:
    text: str
    """The rule as written in the policy file (possibly with AND/OR/NOT)."""
    cel: str
    """The CEL that is evaluated."""
    ast: lark.Tree
    names: frozenset[str]
    """The free variables the rule reads."""

    def evaluate(self, variables: Mapping[str, Any], limits: RuleLimits = DEFAULT_LIMITS) -> RuleOutcome:
        """Evaluate against plain JSON-like values. Errors are outcomes, and never a match."""
        budget = _Budget(limits.max_steps, limits.timeout_seconds)
        try:
            context = {name: to_cel(value) for name, value in variables.items()}
            evaluator = _BoundedEvaluator(self.ast, _activation(), budget)
            value = evaluator.evaluate(context)
        except _OutOfBudget as exc:
            return RuleOutcome(False, str(exc))
        except celpy.CELEvalError as exc:
            return RuleOutcome(False, describe_eval_error(exc))
        except Exception as exc:  # cel-python raises bare Python errors for some bad input; fail closed
            return RuleOutcome(False, f"evaluation failed: {type(exc).__name__}: {exc}")
        if not isinstance(value, celtypes.BoolType):
            return RuleOutcome(False, NOT_BOOLEAN.format(value=_plain(value)))
        return RuleOutcome(bool(value))


def compile_rule(
    text: str, *, known_names: frozenset[str], limits: RuleLimits = DEFAULT_LIMITS
) -> CompiledRule:
    """Translate keywords, parse and check a rule. Raises RuleError naming what is wrong."""
    if len(text) > limits.max_chars:
        raise RuleError(TOO_LONG.format(length=len(text), limit=limits.max_chars))
    if not text.strip():
        raise RuleError("the rule is empty")
    try:
        cel = translate(text, max_depth=limits.max_depth)
    except RuleSyntaxError as exc:
        raise RuleError(str(exc)) from None
    ast = _parse(cel)
    check_shape(ast, limits)
    names = free_names(ast)
    unknown = sorted(names - known_names - CEL_BUILTIN_NAMES)
    if unknown:
        raise RuleError(
            UNKNOWN_NAMES.format(
                s="s" if len(unknown) > 1 else "",
                names=", ".join(unknown),
                known=", ".join(sorted(known_names)),
            )
        )
    return CompiledRule(text=text, cel=cel, ast=ast, names=names)


@functools.lru_cache(maxsize=1024)
def _parse(cel: str) -> lark.Tree:
    """Parse once per distinct rule text (parsing dominates the cost of a rule)."""
    try:
        return cel_environment().compile(cel)
    except celpy.CELParseError as exc:
        column = exc.column or 1
        near = cel[column - 1 : column + 19].strip() or "the end"
        raise RuleError(SYNTAX.format(column=column, near=near)) from None
    except RecursionError:
        raise RuleError("the rule nests too deeply to parse") from None


def check_shape(ast: lark.Tree, limits: RuleLimits) -> None:
    """Refuse, before anything runs, rules whose evaluation would recurse too deeply or multiply without
    bound inside the step budget (nested comprehensions doubling a string allocate before they step)."""
    comprehensions = 0
    stack = [(ast, 1, 0)]
    while stack:  # iterative: the tree may be deeper than Python's recursion limit
        tree, depth, nesting = stack.pop()
        if depth > limits.max_tree_depth:
            raise RuleError(TOO_NESTED)
        if _is_comprehension(tree):
            comprehensions, nesting = comprehensions + 1, nesting + 1
            if comprehensions > limits.max_comprehensions:
                raise RuleError(
                    TOO_MANY_COMPREHENSIONS.format(count=comprehensions, limit=limits.max_comprehensions)
                )
            if nesting > limits.max_comprehension_nesting:
                raise RuleError(
                    COMPREHENSIONS_TOO_NESTED.format(depth=nesting, limit=limits.max_comprehension_nesting)
                )
        stack.extend((child, depth + 1, nesting) for child in tree.children if isinstance(child, lark.Tree))


def _is_comprehension(tree: lark.Tree) -> bool:
    return tree.data == "member_dot_arg" and str(tree.children[1]) in MACROS


@functools.cache
def cel_environment() -> celpy.Environment:
    """The one CEL environment, built on first use (building it raises the recursion limit CEL needs)."""
    return celpy.Environment()


def _activation() -> celpy.Activation:
    return celpy.Activation(annotations=cel_environment().annotations)


def free_names(ast: lark.Tree) -> frozenset[str]:
    """Variables a rule reads: identifiers not bound by a macro such as `list.exists(x, ...)`."""
    return frozenset(_free(ast, frozenset()))


def _free(tree: lark.Tree, bound: frozenset[str]) -> Iterator[str]:
    if tree.data == "ident":
        name = str(tree.children[0])
        if name not in bound:
            yield name
        return
    if _is_comprehension(tree):
        target, _method, arguments = tree.children
        yield from _free(target, bound)
        variable_tree, *bodies = arguments.children
        variable = [str(node.children[0]) for node in variable_tree.find_data("ident")]
        inner = bound | frozenset(variable[:1])
        for body in bodies:
            yield from _free(body, inner)
        return
    for child in tree.children:
        if isinstance(child, lark.Tree):
            yield from _free(child, bound)


def to_cel(value: Any) -> Any:
    """Plain JSON-like Python values to CEL values; floats stay doubles (0.9 and 1.0 compare as doubles)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number")
        return celtypes.DoubleType(value)
    return celpy.json_to_cel(value)


_TYPE_WORDS = {
    "StringType": "text",
    "IntType": "a whole number",
    "UintType": "a whole number",
    "DoubleType": "a number",
    "BoolType": "a boolean",
    "ListType": "a list",
    "MapType": "a mapping",
    "NullType": "null",
}
_TYPE_NAME = re.compile(r"celtypes\.(\w+)'")


def describe_eval_error(exc: celpy.CELEvalError) -> str:
    """cel-python's error text, in the words a policy author uses."""
    message = str(exc.args[0]) if exc.args else "evaluation error"
    if message.startswith("undeclared reference to"):
        name = message.removeprefix("undeclared reference to").split("(")[0].strip(" '\"")
        return f"unknown variable or function '{name}'"
    if "no matching overload" in message or message == "no such overload":
        types = [_TYPE_WORDS.get(name, name) for name in _TYPE_NAME.findall(message)]
        got = f" (got {' and '.join(types)})" if types else ""
        return f"type mismatch: an operator or function was given values of the wrong type{got}"
    return message


def _plain(value: Any) -> str:
    if isinstance(value, celtypes.StringType):
        return repr(str(value))
    return str(value) if isinstance(value, celtypes.IntType | celtypes.DoubleType) else type(value).__name__


class _OutOfBudget(Exception):
    """Deliberately not one of the Python errors cel-python turns into CEL values: it must escape."""


class _Budget:
    def __init__(self, steps: int, seconds: float) -> None:
        self.steps = steps
        self.limit = steps
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.checks = 0

    def spend(self, steps: int = 1) -> None:
        self.steps -= steps
        if self.steps < 0:
            raise _OutOfBudget(OUT_OF_STEPS.format(steps=self.limit))
        self.checks += 1
        if self.checks % 64 == 0 and time.monotonic() > self.deadline:
            raise _OutOfBudget(OUT_OF_TIME.format(seconds=self.seconds))


class _BoundedEvaluator(celpy.Evaluator):
    """cel-python's interpreter, charging one step per syntax node visited (macro bodies included)."""

    def __init__(self, ast: lark.Tree, activation: celpy.Activation, budget: _Budget) -> None:
        super().__init__(ast, activation)
        self._budget = budget

    def visit(self, tree: lark.Tree) -> Any:
        self._budget.spend()
        return super().visit(tree)

    def visit_children(self, tree: lark.Tree) -> list[Any]:
        # lark visits children without going through `visit`, so they are charged here.
        self._budget.spend(sum(isinstance(child, lark.Tree) for child in tree.children))
        return super().visit_children(tree)

    def addition(self, tree: lark.Tree) -> Any:
        # Steps bound work, not memory: `p + p` doubles a string in one step. A concatenation is charged
        # for what it builds (a step per list item or per 16 characters): memory is bounded by the budget too.
        result = super().addition(tree)
        if isinstance(result, str | bytes):
            self._budget.spend(len(result) // 16)
        elif isinstance(result, list):
            self._budget.spend(len(result))
        return result

    def sub_evaluator(self, ast: lark.Tree) -> celpy.Evaluator:
        return _BoundedEvaluator(ast, self.activation, self._budget)
