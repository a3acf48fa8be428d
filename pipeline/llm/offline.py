"""The offline provider: no model behind it. Stages see `offline` and take their deterministic path."""

from __future__ import annotations

from pipeline.llm.base import LLMRequest, LLMResponse, LLMUnavailable

OFFLINE_NAME = "offline"
NO_MODEL = "no model is configured (offline provider); stage {stage!r} must take its deterministic path"


class OfflineProvider:
    """An `LLMProvider` that refuses every call: asking it is a bug in the stage, so it is loud."""

    name = OFFLINE_NAME
    offline = True

    def complete(self, request: LLMRequest) -> LLMResponse:
        raise LLMUnavailable(NO_MODEL.format(stage=request.stage))
