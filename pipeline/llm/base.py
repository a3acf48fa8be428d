"""The provider contract: a request (stable cached prefix + variable prompt, optional tool) and a response.

Stages ask for structured output by naming a tool the model must call; `LLMResponse.tool_input` then holds
the tool's arguments, which the stage validates against its own pydantic model. A provider whose
`offline` is true has no model behind it: stages take their deterministic path instead of calling it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class LLMError(RuntimeError):
    """The model could not give an answer (after the provider's retries)."""


class LLMUnavailable(LLMError):
    """No model is configured (offline), so nothing can be asked."""


class BudgetExceeded(LLMError):
    """The call would exceed the per-intent or monthly budget; it was not made (fail closed)."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model must call; its `input_schema` is a JSON Schema object."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class LLMRequest:
    stage: str
    """Which stage asks (alignment, spec-builder, spec-verifier, spec-optimizer, codegen): for accounting."""
    system: tuple[str, ...]
    """The stable prefix (blueprint, templates, schemas), in order; providers cache it."""
    prompt: str
    """The variable part of the request."""
    tool: ToolSpec | None = None
    max_tokens: int = 4096
    budget_key: str | None = None
    """Per-intent budget key, e.g. 'owner/repo:intents/x.yaml'."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class LLMResponse:
    text: str
    tool_input: dict[str, Any] | None
    model: str
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = ""


@runtime_checkable
class LLMProvider(Protocol):
    name: str
    offline: bool

    def complete(self, request: LLMRequest) -> LLMResponse: ...
