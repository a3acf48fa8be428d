"""spec-optimizer: repair findings and re-verify, until the gate, at most N rounds, or no more progress.

Deterministic repairs come first; with a model, it rewrites the spec from the remaining findings, and the
rewrite is kept only if it scores higher. The result is never better than what the verifier says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from pipeline.llm import LLMError, LLMProvider, LLMRequest, ToolSpec
from pipeline.spec.model import Spec, spec_json_schema
from pipeline.spec.repairs import apply_repairs
from pipeline.spec.verifier import DEFAULT_GATE, Verification, verify

STAGE = "spec-optimizer"
DEFAULT_MAX_ROUNDS = 3
MAX_ROUNDS = 3
"""Rounds are capped: a spec that three rounds of repairs cannot bring to the gate needs a person."""
REWRITE_PROMPT = (
    "Rewrite this SPEC so that it fixes the verifier's findings. Keep every id, endpoint and acceptance "
    "criterion that has no finding unchanged. Never weaken or delete an acceptance criterion. Call the "
    "write_spec tool with the complete SPEC."
)


@dataclass(frozen=True)
class Round:
    number: int
    score: int
    hard_checks_passed: bool
    findings: int
    repairs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "score": self.score,
            "hard_checks_passed": self.hard_checks_passed,
            "findings": self.findings,
            "repairs": list(self.repairs),
        }


@dataclass(frozen=True)
class OptimizationReport:
    spec: Spec
    verification: Verification
    gate: int
    rounds: tuple[Round, ...] = field(default_factory=tuple)

    @property
    def reached_gate(self) -> bool:
        return self.verification.passes(self.gate)

    def to_json(self) -> dict[str, Any]:
        return {
            "service_name": self.spec.service_name,
            "gate": self.gate,
            "reached_gate": self.reached_gate,
            "score": self.verification.score,
            "rounds": [r.to_json() for r in self.rounds],
            "verification": self.verification.to_json(),
        }


def optimize(
    spec: Spec,
    *,
    gate: int = DEFAULT_GATE,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    provider: LLMProvider | None = None,
    budget_key: str | None = None,
    on_round: Callable[[Round], None] | None = None,
) -> OptimizationReport:
    """Improve `spec` towards `gate`. Round 0 is the spec as given; rounds 1..max_rounds are repairs.

    `on_round` is told about each round as it ends (for progress displays).
    """
    if not 1 <= max_rounds <= MAX_ROUNDS:
        raise ValueError(f"max_rounds must be between 1 and {MAX_ROUNDS}, not {max_rounds}")
    verification = verify(spec)
    rounds = [_round(0, verification)]
    if on_round:
        on_round(rounds[-1])
    for number in range(1, max_rounds + 1):
        if verification.passes(gate):
            break
        candidate, repairs = apply_repairs(spec, verification.findings)
        if provider is not None and not provider.offline and not verify(candidate).passes(gate):
            candidate, rewritten = _rewrite(candidate, provider, budget_key)
            repairs += rewritten
        checked = verify(candidate)
        if _standing(checked) <= _standing(verification):
            rounds.append(_round(number, checked, repairs))
            break  # no progress: stop, and keep the better spec
        spec, verification = candidate, checked
        rounds.append(_round(number, verification, repairs))
    return OptimizationReport(spec=spec, verification=verification, gate=gate, rounds=tuple(rounds))


def _standing(verification: Verification) -> tuple[bool, int, int]:
    """How good a verification is: hard checks passed, then fewer hard findings, then the score.

    A round that fixes one of two hard findings is progress even though the capped score stays the same.
    """
    hard = sum(f.hard for f in verification.findings)
    return verification.hard_checks_passed, -hard, verification.score


def _round(number: int, verification: Verification, repairs: list[str] | None = None) -> Round:
    return Round(
        number=number,
        score=verification.score,
        hard_checks_passed=verification.hard_checks_passed,
        findings=len(verification.findings),
        repairs=tuple(repairs or ()),
    )


def _rewrite(spec: Spec, provider: LLMProvider, budget_key: str | None) -> tuple[Spec, list[str]]:
    """Ask the model for a rewrite; keep it only if it validates and scores higher."""
    findings = [f.to_json() for f in verify(spec).findings]
    request = LLMRequest(
        stage=STAGE,
        system=(REWRITE_PROMPT,),
        prompt=json.dumps({"spec": spec.to_json(), "findings": findings}, indent=2),
        tool=ToolSpec(
            name="write_spec", description="Submit the complete SPEC.", input_schema=spec_json_schema()
        ),
        max_tokens=8192,
        budget_key=budget_key,
    )
    try:
        response = provider.complete(request)
        rewritten = Spec.model_validate(response.tool_input or {})
    except (LLMError, ValidationError):
        return spec, ["model rewrite rejected (no valid spec)"]
    rewritten = rewritten.model_copy(  # the rewrite cannot change who writes the logic
        update={"service_name": spec.service_name, "intent_path": spec.intent_path, "logic": spec.logic}
    )
    if verify(rewritten).score <= verify(spec).score:
        return spec, ["model rewrite rejected (no better score)"]
    return rewritten, ["model rewrite"]
