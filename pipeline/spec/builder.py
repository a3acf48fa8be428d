"""spec-builder: an intent becomes a Spec; offline through fixed rules, with a model through tool use."""

from __future__ import annotations

import json

from pydantic import ValidationError

from pipeline.intents import Intent
from pipeline.llm import LLMProvider, LLMRequest, ToolSpec
from pipeline.spec.model import Spec, spec_json_schema
from pipeline.spec.offline import build_offline

STAGE = "spec-builder"
TOOL_NAME = "write_spec"
MODEL_ATTEMPTS = 2
SYSTEM_PROMPT = (
    "You write SPECs for small HTTP services built with FastAPI. Call the write_spec tool exactly once. "
    "Every functional requirement is a numbered MUST statement (FR-001...). Every endpoint (EP-001...) "
    "lists its error cases with status codes. Every acceptance criterion (AC-001...) is Given/When/Then, "
    "names the FR it verifies and the endpoint it exercises. Every non-functional requirement has a number "
    "(target) and unit. Never use vague words such as fast, easy or user-friendly. Use at most 3 open "
    "questions, each starting with [NEEDS CLARIFICATION]. Start from the draft you are given: keep its "
    "endpoints (with their behaviours), data model and ids, and add what the free text asks for; an "
    "endpoint no behaviour explains has operation 'custom', and its logic is written by a model."
)


class SpecBuildError(RuntimeError):
    """The model did not produce a valid spec (after a correction round)."""


def build_spec(
    intent: Intent,
    *,
    blueprint: str = "",
    intent_path: str = "",
    provider: LLMProvider | None = None,
    budget_key: str | None = None,
) -> Spec:
    """The SPEC for `intent`: deterministic offline; with a model, the model extends the draft."""
    draft = build_offline(intent, blueprint=blueprint, intent_path=intent_path)
    if provider is None or provider.offline:
        return draft
    return _build_with_model(intent, draft, blueprint, provider, budget_key)


def _build_with_model(
    intent: Intent, draft: Spec, blueprint: str, provider: LLMProvider, budget_key: str | None
) -> Spec:
    tool = ToolSpec(name=TOOL_NAME, description="Submit the complete SPEC.", input_schema=spec_json_schema())
    prompt = _prompt(intent, draft)
    problem = ""
    for _attempt in range(MODEL_ATTEMPTS):
        request = LLMRequest(
            stage=STAGE,
            system=(SYSTEM_PROMPT, f"BLUEPRINT.md:\n{blueprint}" if blueprint else "No blueprint given."),
            prompt=prompt
            + (f"\n\nYour previous answer was invalid:\n{problem}\nSend it again, fixed." if problem else ""),
            tool=tool,
            max_tokens=8192,
            budget_key=budget_key,
        )
        response = provider.complete(request)
        if response.tool_input is None:
            problem = f"you did not call the {TOOL_NAME} tool"
            continue
        try:
            spec = Spec.model_validate(response.tool_input)
        except ValidationError as exc:
            problem = _errors(exc)
            continue
        # What the templates cannot implement, the model writes (and the tests prove): say so in the SPEC.
        update: dict[str, object] = {
            "service_name": intent.service_name,
            "intent_path": draft.intent_path,
            "logic": "model",
        }
        if "deployment" in spec.model_fields_set:  # the intent says how many copies run, not the model
            update["deployment"] = spec.deployment.model_copy(update={"replicas": intent.replicas})
        return spec.model_copy(update=update)
    raise SpecBuildError(f"the model gave no valid spec after {MODEL_ATTEMPTS} attempts: {problem}")


def _prompt(intent: Intent, draft: Spec) -> str:
    return (
        "Intent:\n"
        + json.dumps(intent.model_dump(mode="json"), indent=2)
        + "\n\nDraft SPEC built from the intent's structured hints:\n"
        + json.dumps(draft.to_json(), indent=2)
    )


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:20])
