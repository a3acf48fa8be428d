"""Choosing the provider from settings, the offline provider, and the one-time offline notice."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from pipeline.llm import LLMProvider, LLMRequest, LLMUnavailable
from pipeline.llm.anthropic import AnthropicProvider
from pipeline.llm.factory import OFFLINE_NOTICE, OfflineNotice, build_provider
from pipeline.llm.offline import OfflineProvider
from pipeline.llm.pricing import UnknownModel
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database
from tests.fixtures.anthropic_api import FakeMessagesAPI
from tests.llm.conftest import API_KEY, GENEROUS, MODEL, ProviderFactory


@pytest.mark.parametrize("key", [None, SecretStr(""), SecretStr("   ")])
def test_no_key_means_offline(key: SecretStr | None, database: Database) -> None:
    provider = build_provider(api_key=key, model=MODEL, budgets=GENEROUS, database=database)

    assert isinstance(provider, LLMProvider)
    assert (provider.name, provider.offline) == ("offline", True)
    with pytest.raises(LLMUnavailable, match="stage 'alignment' must take its deterministic path"):
        provider.complete(LLMRequest(stage="alignment", system=(), prompt="x"))


def test_a_key_means_claude_at_the_given_base_url(anthropic_api: FakeMessagesAPI, database: Database) -> None:
    anthropic_api.enqueue(anthropic_api.text("hello"))
    provider = build_provider(
        api_key=SecretStr(API_KEY),
        model=MODEL,
        budgets=GENEROUS,
        database=database,
        base_url=anthropic_api.base_url,
    )

    response = provider.complete(LLMRequest(stage="codegen", system=(), prompt="hi", budget_key="k"))

    assert isinstance(provider, AnthropicProvider)
    assert (provider.name, provider.offline) == ("anthropic", False)
    assert response.text == "hello"
    assert UsageLedger(database, GENEROUS).spend_for_key("k") == pytest.approx(response.usage.cost_usd)


def test_an_unpriced_model_is_refused_when_the_provider_is_built(database: Database) -> None:
    with pytest.raises(UnknownModel, match="no price is known for model 'claude-mystery-9'"):
        build_provider(
            api_key=SecretStr(API_KEY),
            model="claude-mystery-9",
            budgets=Budgets(per_intent_usd=1, monthly_usd=1),
            database=database,
        )


def test_the_offline_notice_is_said_once_and_only_when_offline(make_provider: ProviderFactory) -> None:
    said: list[str] = []
    notice = OfflineNotice(said.append)

    notice(make_provider())
    notice(OfflineProvider())
    notice(OfflineProvider())

    assert said == [OFFLINE_NOTICE]
    assert OFFLINE_NOTICE == "no ANTHROPIC_API_KEY: using the offline provider"
