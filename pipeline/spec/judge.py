"""An optional model judge on top of the rubric, never instead of it: its findings are soft, so it can
lower a score but never raise one, and the hard checks stay the rubric's alone.
"""

from __future__ import annotations

import json
from dataclasses import replace

from pydantic import BaseModel, Field, ValidationError

from pipeline.llm import LLMError, LLMProvider, LLMRequest, ToolSpec
from pipeline.spec.model import Spec
from pipeline.spec.optimizer import OptimizationReport
from pipeline.spec.verifier import WEIGHTS, Finding, Severity, Verification, verify

STAGE = "spec-verifier"
JUDGE_CODE = "judge"
MAX_FINDINGS = 10
SYSTEM = (
    "You review a SPEC for a small HTTP service after an automatic rubric. Report only real problems the "
    "rubric cannot see: contradictions, requirements that do not serve the goal, missing error cases a "
    "client would hit, unmeasurable claims. Call report_findings; an empty list is a fine answer."
)


class _JudgeFinding(BaseModel):
    section: str
    severity: Severity
    message: str = Field(min_length=1, max_length=500)


class _Judgement(BaseModel):
    findings: list[_JudgeFinding] = Field(default_factory=list, max_length=50)


TOOL = ToolSpec(
    name="report_findings",
    description="Report the problems found.",
    input_schema=_Judgement.model_json_schema(),
)


def judged_verification(
    spec: Spec,
    provider: LLMProvider | None,
    *,
    budget_key: str | None = None,
    documents: tuple[Finding, ...] = (),
) -> Verification:
    """The rubric's verification, with the judge's findings added when a model is configured."""
    if provider is None or provider.offline:
        return verify(spec, documents=documents)
    return verify(spec, extra=judge(spec, provider, budget_key=budget_key), documents=documents)


def judged_report(
    report: OptimizationReport, provider: LLMProvider | None, *, budget_key: str | None = None
) -> OptimizationReport:
    """The optimizer's result, judged once at the end when a model is configured (it can only lower)."""
    if provider is None or provider.offline:
        return report
    return replace(report, verification=judged_verification(report.spec, provider, budget_key=budget_key))


def judge(spec: Spec, provider: LLMProvider, *, budget_key: str | None = None) -> tuple[Finding, ...]:
    """The model's findings (soft, in the rubric's sections); none when the model gives no usable answer."""
    request = LLMRequest(
        stage=STAGE,
        system=(SYSTEM,),
        prompt=json.dumps(spec.to_json(), indent=2),
        tool=TOOL,
        max_tokens=2048,
        budget_key=budget_key,
    )
    try:
        answer = _Judgement.model_validate(provider.complete(request).tool_input or {})
    except (LLMError, ValidationError):
        return ()  # the judge is an extra: without it the rubric's score stands
    return tuple(
        Finding(
            section=f.section if f.section in WEIGHTS else "overview",
            severity=f.severity,
            message=f"judge: {f.message}",
            code=JUDGE_CODE,
        )
        for f in answer.findings[:MAX_FINDINGS]
    )
