"""Claude prices per model, the cost of a call's usage, and a conservative cost bound before a call."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pipeline.llm.base import LLMRequest, Usage

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens, from Anthropic's published price list (5-minute cache writes)."""

    input: float
    cache_write: float
    cache_read: float
    output: float

    @property
    def highest_input(self) -> float:
        """The dearest way an input token can be billed (a cache write costs more than plain input)."""
        return max(self.input, self.cache_write, self.cache_read)


_OPUS_4 = ModelPrice(input=15.0, cache_write=18.75, cache_read=1.50, output=75.0)
_OPUS_45 = ModelPrice(input=5.0, cache_write=6.25, cache_read=0.50, output=25.0)
_SONNET_4 = ModelPrice(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0)
_SONNET_5 = ModelPrice(input=2.0, cache_write=2.50, cache_read=0.20, output=10.0)
_HAIKU_45 = ModelPrice(input=1.0, cache_write=1.25, cache_read=0.10, output=5.0)
_HAIKU_35 = ModelPrice(input=0.80, cache_write=1.0, cache_read=0.08, output=4.0)

# Keyed by model alias; dated ids (`claude-haiku-4-5-20251001`) and `-latest` resolve to their alias.
# A model missing here is refused: a call whose cost cannot be counted cannot be held to a budget.
# Models priced by prompt length (e.g. Haiku 5.5) are left out on purpose until bands are modelled.
MODEL_PRICES: dict[str, ModelPrice] = {
    "claude-opus-5": _OPUS_45,
    "claude-opus-4-8": _OPUS_45,
    "claude-opus-4-7": _OPUS_45,
    "claude-opus-4-6": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4-0": _OPUS_4,
    "claude-opus-4": _OPUS_4,
    # The published cache-read price of Sonnet 5.5 is kept at 0.20 (the dearer of two sources): counting
    # high errs toward refusing a call, never toward overspending.
    "claude-sonnet-5-5": _SONNET_5,
    "claude-sonnet-5": _SONNET_5,
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4-0": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-3-7-sonnet": _SONNET_4,
    "claude-haiku-4-5": _HAIKU_45,
    "claude-3-5-haiku": _HAIKU_35,
}

_DATED_OR_LATEST = re.compile(r"-(\d{8}|latest)$")

# Framing the API adds around what we send: message roles, block separators, and the system prompt it
# injects when tools are present (a few hundred tokens). Counted generously on purpose.
REQUEST_OVERHEAD_TOKENS = 1_024


class UnknownModel(ValueError):
    """No price is known for the model, so its calls cannot be counted against a budget."""

    def __init__(self, model: str) -> None:
        known = ", ".join(sorted(MODEL_PRICES))
        super().__init__(f"no price is known for model {model!r}; known models: {known}")
        self.model = model


def model_alias(model: str) -> str:
    """`claude-haiku-4-5-20251001` and `claude-haiku-4-5-latest` -> `claude-haiku-4-5`."""
    return _DATED_OR_LATEST.sub("", model)


def price_for(model: str) -> ModelPrice:
    """The price of `model` (an alias, a dated id, or `<alias>-latest`); UnknownModel if there is none."""
    price = MODEL_PRICES.get(model) or MODEL_PRICES.get(model_alias(model))
    if price is None:
        raise UnknownModel(model)
    return price


def usage_cost(price: ModelPrice, usage: Usage) -> float:
    """What a call with this usage costs, in USD."""
    total = (
        usage.input_tokens * price.input
        + usage.cache_creation_input_tokens * price.cache_write
        + usage.cache_read_input_tokens * price.cache_read
        + usage.output_tokens * price.output
    )
    return total / PER_MILLION


def input_token_bound(request: LLMRequest) -> int:
    """An upper bound on the input tokens of `request`.

    Claude's tokenizer works on bytes and every token stands for at least one byte, so the UTF-8 size
    of everything sent (system blocks, prompt, tool definition) bounds the token count from above.
    """
    parts = [*request.system, request.prompt]
    if request.tool is not None:
        tool = request.tool
        parts += [tool.name, tool.description, json.dumps(tool.input_schema, separators=(",", ":"))]
    return sum(len(part.encode("utf-8")) for part in parts) + REQUEST_OVERHEAD_TOKENS


def cost_bound(price: ModelPrice, request: LLMRequest) -> float:
    """The most `request` can cost: every input token at the dearest input rate, all `max_tokens` out."""
    dearest = input_token_bound(request) * price.highest_input + request.max_tokens * price.output
    return dearest / PER_MILLION
