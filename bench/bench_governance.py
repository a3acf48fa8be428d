"""Benchmark: governing the example intents with the shipped policies, against plain cel-python.

Prints, per decision, the median time of `govern` (lexical alignment + every policy) and two ratios
measured in the same run: the bounded evaluator (step budget) against cel-python's own interpreter on the
same compiled rules, and a cold rule compile against a cached one.

    .venv/bin/python bench/bench_governance.py [--runs 50]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import celpy  # noqa: E402

from pipeline.governance import LexicalScorer, PushContext, govern, load_policies  # noqa: E402
from pipeline.governance.rules import _parse, cel_environment, compile_rule, to_cel  # noqa: E402
from pipeline.governance.variables import known_variables, rule_variables  # noqa: E402
from pipeline.intents import Intent, load_intent_file  # noqa: E402


def median_seconds(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    policies = load_policies(ROOT / "policies")
    blueprint = (ROOT / "examples" / "BLUEPRINT.md").read_text(encoding="utf-8")
    intents = [load_intent_file(path) for path in sorted((ROOT / "examples" / "intents").glob("*.yaml"))]

    def govern_all() -> None:
        for intent in intents:
            govern(intent, policies, scorer=LexicalScorer(), blueprint=blueprint, context=PushContext())

    per_decision = median_seconds(govern_all, runs) / len(intents)
    bounded, plain = _evaluators(policies.policies, intents)
    ratio_eval = median_seconds(bounded, runs) / median_seconds(plain, runs)
    rules = [loaded.rule.text for loaded in policies.policies]
    names = known_variables()

    def cold() -> None:
        _parse.cache_clear()
        for rule in rules:
            compile_rule(rule, known_names=names)

    def warm() -> None:
        for rule in rules:
            compile_rule(rule, known_names=names)

    ratio_compile = median_seconds(cold, max(5, runs // 5)) / median_seconds(warm, runs)
    print(f"govern: {per_decision * 1000:.2f} ms per decision ({len(policies.policies)} policies)")
    print(f"bounded evaluator / plain cel-python interpreter: {ratio_eval:.2f}x")
    print(f"cold compile / cached compile: {ratio_compile:.1f}x")


def _evaluators(loaded: tuple, intents: list[Intent]) -> tuple[Callable[[], None], Callable[[], None]]:
    contexts = [
        rule_variables(intent, PushContext(), alignment_score=0.9, alignment_method="given")
        for intent in intents
    ]
    environment = cel_environment()
    programs = [environment.program(item.rule.ast) for item in loaded]

    def bounded() -> None:
        for context in contexts:
            for item in loaded:
                item.rule.evaluate(context)

    def plain() -> None:
        # Converting the variables is part of both: `CompiledRule.evaluate` converts them on every call.
        for context in contexts:
            for program in programs:
                with contextlib.suppress(celpy.CELEvalError):
                    program.evaluate({name: to_cel(value) for name, value in context.items()})

    return bounded, plain


if __name__ == "__main__":
    main()
