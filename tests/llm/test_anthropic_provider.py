"""The Claude provider through the real anthropic SDK against a local server replaying real API answers."""

from __future__ import annotations

import logging
import socket

import pytest

from pipeline.llm import BudgetExceeded, LLMError, LLMRequest, ToolSpec
from pipeline.llm.anthropic import RetryPolicy, Timeouts
from pipeline.llm.pricing import cost_bound, price_for
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database
from tests.fixtures.anthropic_api import FakeMessagesAPI, ScriptedResponse
from tests.llm.conftest import API_KEY, MODEL, ProviderFactory

BLUEPRINT = "# Blueprint\nServices are small, observable and owned."
TEMPLATE = "SPEC template: overview, endpoints, data model, acceptance criteria."
SCORE_TOOL = ToolSpec(
    name="record_alignment",
    description="Record how well the intent aligns with the blueprint.",
    input_schema={
        "type": "object",
        "properties": {"score": {"type": "number"}, "rationale": {"type": "string"}},
        "required": ["score", "rationale"],
    },
)


def ask(prompt: str = "Score this intent.", **overrides: object) -> LLMRequest:
    fields: dict[str, object] = {"stage": "alignment", "system": (BLUEPRINT, TEMPLATE), "prompt": prompt}
    fields.update(overrides)
    return LLMRequest(**fields)  # type: ignore[arg-type]


def test_text_answer_with_the_stable_prefix_cached(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    anthropic_api.enqueue(anthropic_api.text())

    response = make_provider().complete(ask("What is the weather?"))

    assert response.text == "The weather in SF is currently **20°C** (68°F) and **Sunny**!"
    assert response.tool_input is None
    assert response.model == "claude-haiku-4-5-20251001"
    assert response.stop_reason == "end_turn"
    [sent] = anthropic_api.requests
    assert sent.path == "/v1/messages"
    # SDK releases differ in how they send the key (`x-api-key`, or a bearer token as this one does).
    assert API_KEY in (
        sent.headers.get("x-api-key"),
        sent.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert sent.body["model"] == MODEL
    assert sent.body["messages"] == [{"role": "user", "content": "What is the weather?"}]
    assert sent.body["stream"] is True
    # The blueprint and template are the cached prefix: one breakpoint, on the last stable block.
    assert sent.body["system"] == [
        {"type": "text", "text": BLUEPRINT},
        {"type": "text", "text": TEMPLATE, "cache_control": {"type": "ephemeral"}},
    ]
    assert "tools" not in sent.body


def test_tool_use_is_forced_and_its_input_returned(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    verdict = {"score": 0.82, "rationale": "Fits the observability principle."}
    anthropic_api.enqueue(anthropic_api.tool_use(verdict, name=SCORE_TOOL.name))

    response = make_provider().complete(ask(tool=SCORE_TOOL))

    assert response.tool_input == verdict
    assert response.stop_reason == "tool_use"
    [sent] = anthropic_api.requests
    assert sent.body["tool_choice"] == {"type": "tool", "name": SCORE_TOOL.name}
    assert sent.body["tools"] == [
        {
            "name": SCORE_TOOL.name,
            "description": SCORE_TOOL.description,
            "input_schema": SCORE_TOOL.input_schema,
        }
    ]


def test_a_model_that_refuses_forced_tools_gets_auto_choice(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    anthropic_api.enqueue(anthropic_api.tool_use({"score": 1, "rationale": "ok"}, name=SCORE_TOOL.name))

    make_provider(model="claude-sonnet-5-5").complete(ask(tool=SCORE_TOOL))

    assert anthropic_api.requests[0].body["tool_choice"] == {"type": "auto"}


def test_an_answer_without_the_tool_call_is_an_error_yet_is_paid_for(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, database: Database
) -> None:
    anthropic_api.enqueue(anthropic_api.text("I would rather chat."))
    provider = make_provider()

    with pytest.raises(LLMError, match="did not call the tool 'record_alignment'"):
        provider.complete(ask(tool=SCORE_TOOL))

    spent = UsageLedger(database, provider_budgets()).spend_this_month()
    assert spent == pytest.approx((705 * 1.0 + 25 * 5.0) / 1_000_000)


def provider_budgets() -> Budgets:
    return Budgets(per_intent_usd=10.0, monthly_usd=100.0)


def test_usage_cache_tokens_and_cost_are_recorded(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, database: Database
) -> None:
    usage = {
        "input_tokens": 120,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 9000,
        "output_tokens": 400,
    }
    anthropic_api.enqueue(anthropic_api.text(usage=usage))

    response = make_provider().complete(ask(budget_key="acme/intents:intents/billing.yaml"))

    # Haiku 4.5's published prices per million tokens: input $1, cache write $1.25, cache read $0.10,
    # output $5.
    expected = (120 * 1.0 + 3000 * 1.25 + 9000 * 0.10 + 400 * 5.0) / 1_000_000
    assert response.usage.input_tokens == 120
    assert response.usage.cache_creation_input_tokens == 3000
    assert response.usage.cache_read_input_tokens == 9000
    assert response.usage.output_tokens == 400
    assert response.usage.cost_usd == pytest.approx(expected)
    ledger = UsageLedger(database, provider_budgets())
    assert ledger.spend_this_month() == pytest.approx(expected)
    assert ledger.spend_for_key("acme/intents:intents/billing.yaml") == pytest.approx(expected)
    [stage] = ledger.usage_by_stage()
    assert (stage.stage, stage.calls, stage.cache_read_input_tokens) == ("alignment", 1, 9000)


@pytest.mark.parametrize("failure", ["rate_limited", "overloaded", "internal_error"])
def test_transient_errors_are_retried(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, failure: str
) -> None:
    first = {
        "rate_limited": anthropic_api.rate_limited(),
        "overloaded": anthropic_api.overloaded(),
        "internal_error": anthropic_api.error(500),
    }[failure]
    anthropic_api.enqueue(first, anthropic_api.text("after the retry"))

    response = make_provider().complete(ask())

    assert response.text == "after the retry"
    assert len(anthropic_api.requests) == 2
    # The retry is the same request.
    assert anthropic_api.requests[0].body == anthropic_api.requests[1].body


def test_a_bad_request_is_not_retried(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, database: Database
) -> None:
    anthropic_api.enqueue(anthropic_api.bad_request())

    with pytest.raises(LLMError) as raised:
        make_provider().complete(ask())

    assert len(anthropic_api.requests) == 1
    assert str(raised.value).startswith("Claude API error 400 (invalid_request_error): messages.0.content.1")
    assert UsageLedger(database, provider_budgets()).spend_this_month() == 0.0


@pytest.mark.parametrize("status", [401, 403, 404, 413])
def test_other_client_errors_are_not_retried(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, status: int
) -> None:
    anthropic_api.enqueue(anthropic_api.error(status))

    with pytest.raises(LLMError, match=f"Claude API error {status}"):
        make_provider().complete(ask())

    assert len(anthropic_api.requests) == 1


def test_retry_after_is_honoured(anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory) -> None:
    anthropic_api.enqueue(anthropic_api.rate_limited(retry_after=0.6), anthropic_api.text())

    make_provider().complete(ask())

    first, second = anthropic_api.requests
    assert second.received_at - first.received_at >= 0.6


def test_a_retry_after_beyond_the_limit_fails_now(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    anthropic_api.enqueue(anthropic_api.rate_limited(retry_after=3600))

    with pytest.raises(LLMError, match="asks to wait 3600 s"):
        make_provider().complete(ask())

    assert len(anthropic_api.requests) == 1


def test_retries_stop_after_the_last_attempt(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    anthropic_api.enqueue(*(anthropic_api.overloaded() for _ in range(3)))

    with pytest.raises(LLMError, match="Claude API error 529 \\(overloaded_error\\)"):
        make_provider().complete(ask())

    assert len(anthropic_api.requests) == 3


def test_a_slow_answer_times_out_and_is_retried(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    slow = anthropic_api.text()
    anthropic_api.enqueue(*(type(slow)(slow.status, slow.body, slow.headers, delay=5.0) for _ in range(2)))
    provider = make_provider(
        timeouts=Timeouts(read=0.3), retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01)
    )

    with pytest.raises(LLMError, match="unreachable after 2 attempt\\(s\\): request timed out"):
        provider.complete(ask())

    assert len(anthropic_api.requests) == 2


def test_connection_errors_are_retried_then_reported(make_provider: ProviderFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    with pytest.raises(LLMError, match="unreachable after 3 attempt\\(s\\): connection error"):
        make_provider(base_url=f"http://127.0.0.1:{closed_port}").complete(ask())


def test_the_key_never_reaches_errors_or_logs(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # A misbehaving proxy echoes the key back in its error; it must still not get out.
    anthropic_api.enqueue(
        anthropic_api.overloaded(),
        anthropic_api.error(401, message=f"invalid x-api-key: {API_KEY}"),
    )
    provider = make_provider()
    caplog.set_level(logging.DEBUG)

    with pytest.raises(LLMError) as raised:
        provider.complete(ask())

    assert API_KEY not in str(raised.value)
    assert "[redacted]" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is not None
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(provider)
    assert "retrying" in caplog.text


def test_the_monthly_budget_fails_closed_before_any_request(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, database: Database
) -> None:
    request = ask()
    estimate = cost_bound(price_for(MODEL), request)
    provider = make_provider(budgets=Budgets(per_intent_usd=10.0, monthly_usd=estimate * 0.99))

    with pytest.raises(BudgetExceeded, match="monthly budget"):
        provider.complete(request)

    assert anthropic_api.requests == []
    assert UsageLedger(database, provider_budgets()).usage_by_stage() == []


def test_spend_counts_against_the_intent_and_the_month(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    request = ask(budget_key="intent-a")
    estimate = cost_bound(price_for(MODEL), request)
    first_cost = 8000 * 5.0 / 1_000_000  # 8000 output tokens at Haiku 4.5's $5 per million
    limit = first_cost + estimate / 2
    anthropic_api.enqueue(anthropic_api.text(usage={"input_tokens": 0, "output_tokens": 8000}))
    anthropic_api.enqueue(anthropic_api.text())
    by_intent = make_provider(budgets=Budgets(per_intent_usd=limit, monthly_usd=100.0))

    by_intent.complete(request)
    with pytest.raises(BudgetExceeded, match="budget for intent-a"):
        by_intent.complete(request)
    by_intent.complete(ask(budget_key="intent-b"))  # another intent has its own budget

    by_month = make_provider(budgets=Budgets(per_intent_usd=100.0, monthly_usd=limit))
    with pytest.raises(BudgetExceeded, match="monthly budget"):
        by_month.complete(ask(budget_key="intent-c"))
    assert len(anthropic_api.requests) == 2


def test_an_answer_that_is_not_a_message_stream_is_a_clear_error(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory, database: Database
) -> None:
    anthropic_api.enqueue(ScriptedResponse(200, {"status": "ok"}))

    with pytest.raises(LLMError, match="answer could not be read: the stream ended before a message arrived"):
        make_provider().complete(ask())

    assert len(anthropic_api.requests) == 1
    assert UsageLedger(database, provider_budgets()).spend_this_month() == 0.0


def test_a_recorded_text_stream_is_read_whole(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    anthropic_api.enqueue(anthropic_api.recorded_stream("stream-text.events.json"))

    response = make_provider().complete(ask())

    assert response.text == "Hello there!"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 6)
    assert response.stop_reason == "end_turn"


def test_a_recorded_tool_use_stream_gives_the_tool_input(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    # The recording: a sentence of text, then get_weather with its input streamed in JSON fragments.
    anthropic_api.enqueue(anthropic_api.recorded_stream("stream-tool-use.events.json"))
    weather = ToolSpec("get_weather", "Get the weather.", {"type": "object"})

    response = make_provider().complete(ask(tool=weather))

    assert response.tool_input == {"location": "Paris"}
    assert response.text == "I'll check the current weather in Paris for you."
    assert response.usage.output_tokens == 65


def test_an_overloaded_error_inside_a_stream_is_retried(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    anthropic_api.enqueue(anthropic_api.stream_error("overloaded_error"), anthropic_api.text("second try"))

    response = make_provider().complete(ask())

    assert response.text == "second try"
    assert len(anthropic_api.requests) == 2


def test_a_request_error_inside_a_stream_is_not_retried(
    anthropic_api: FakeMessagesAPI, make_provider: ProviderFactory
) -> None:
    anthropic_api.enqueue(anthropic_api.stream_error("invalid_request_error", "prompt is too long"))

    with pytest.raises(LLMError, match="during the answer \\(invalid_request_error\\): prompt is too long"):
        make_provider().complete(ask())

    assert len(anthropic_api.requests) == 1
