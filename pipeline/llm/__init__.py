"""LLM providers: one small interface for every stage that uses a model (Claude, or offline)."""

from pipeline.llm.base import (
    BudgetExceeded,
    LLMError,
    LLMProvider,
    LLMRequest,
    LLMResponse,
    LLMUnavailable,
    ToolSpec,
    Usage,
)

__all__ = [
    "BudgetExceeded",
    "LLMError",
    "LLMProvider",
    "LLMRequest",
    "LLMResponse",
    "LLMUnavailable",
    "ToolSpec",
    "Usage",
]
