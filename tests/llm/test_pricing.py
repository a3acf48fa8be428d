"""Prices per model, and the bound that budgets check before a call."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.llm import LLMRequest, ToolSpec, Usage
from pipeline.llm.pricing import (
    MODEL_PRICES,
    UnknownModel,
    cost_bound,
    input_token_bound,
    price_for,
    usage_cost,
)


@pytest.mark.parametrize(
    ("model", "alias"),
    [
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ],
)
def test_dated_ids_and_latest_resolve_to_their_alias(model: str, alias: str) -> None:
    assert price_for(model) is MODEL_PRICES[alias]


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-haiku-5-5", "gpt-4o", "claude-sonnet-4-5-x"])
def test_a_model_without_a_price_is_refused(model: str) -> None:
    with pytest.raises(UnknownModel, match=f"no price is known for model '{model}'"):
        price_for(model)


def test_cost_uses_each_rate_of_the_model() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
        output_tokens=1_000_000,
    )
    # Sonnet 4.5: $3 input, $3.75 cache write, $0.30 cache read, $15 output per million tokens.
    assert usage_cost(price_for("claude-sonnet-4-5"), usage) == pytest.approx(3 + 3.75 + 0.30 + 15)


def test_the_bound_counts_non_ascii_text_by_its_bytes() -> None:
    ascii_request = LLMRequest(stage="s", system=(), prompt="a" * 100)
    wide_request = LLMRequest(stage="s", system=(), prompt="€" * 100)  # 3 bytes each in UTF-8
    assert input_token_bound(wide_request) - input_token_bound(ascii_request) == 200


requests = st.builds(
    LLMRequest,
    stage=st.just("spec-builder"),
    system=st.lists(st.text(max_size=300), max_size=3).map(tuple),
    prompt=st.text(max_size=500),
    tool=st.none() | st.just(ToolSpec("emit", "Emit the spec.", {"type": "object"})),
    max_tokens=st.integers(min_value=1, max_value=64_000),
)


@given(
    request=requests,
    model=st.sampled_from(sorted(MODEL_PRICES)),
    split=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    output_share=st.floats(0, 1),
)
def test_the_bound_is_never_below_what_the_call_can_cost(
    request: LLMRequest, model: str, split: tuple[float, float], output_share: float
) -> None:
    # Whatever mix of plain, cache-write and cache-read input the API reports, and however much of
    # max_tokens is used, the call costs no more than the bound checked before it.
    price = price_for(model)
    total_in = input_token_bound(request)
    written = int(total_in * split[0])
    read = int((total_in - written) * split[1])
    usage = Usage(
        input_tokens=total_in - written - read,
        cache_creation_input_tokens=written,
        cache_read_input_tokens=read,
        output_tokens=int(request.max_tokens * output_share),
    )
    assert usage_cost(price, usage) <= cost_bound(price, request) + 1e-12
