"""Fixtures for the LLM provider tests: a provider on the fake API, its usage on the test's state database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from pipeline.llm.anthropic import AnthropicProvider, RetryPolicy, Timeouts
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database
from tests.fixtures.anthropic_api import FakeMessagesAPI

API_KEY = "sk-ant-api03-test-Zq8vR2kLmN4pXw7yT1uB9cD3eF6gH0jK-key"
MODEL = "claude-haiku-4-5-20251001"
GENEROUS = Budgets(per_intent_usd=10.0, monthly_usd=100.0)
# Short waits so retry tests stay fast; the policy is the same code as in production.
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)

ProviderFactory = Callable[..., AnthropicProvider]


@pytest.fixture
def make_provider(anthropic_api: FakeMessagesAPI, database: Database) -> ProviderFactory:
    """Builds a provider against the fake API; keyword arguments override budgets, retry, timeouts."""

    def build(
        *,
        budgets: Budgets = GENEROUS,
        retry: RetryPolicy = FAST_RETRY,
        timeouts: Timeouts | None = None,
        base_url: str | None = None,
        model: str = MODEL,
    ) -> AnthropicProvider:
        return AnthropicProvider(
            api_key=SecretStr(API_KEY),
            model=model,
            ledger=UsageLedger(database, budgets),
            base_url=base_url or anthropic_api.base_url,
            timeouts=timeouts,
            retry=retry,
        )

    return build
