"""Builds the provider from explicit settings: Claude when a key is given, otherwise offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from pipeline.llm.base import LLMProvider
from pipeline.llm.offline import OfflineProvider
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database

if TYPE_CHECKING:
    from pipeline.llm.anthropic import RetryPolicy, Timeouts

OFFLINE_NOTICE = "no ANTHROPIC_API_KEY: using the offline provider"


def build_provider(
    *,
    api_key: SecretStr | None,
    model: str,
    budgets: Budgets,
    database: Database,
    base_url: str | None = None,
    timeouts: Timeouts | None = None,
    retry: RetryPolicy | None = None,
) -> LLMProvider:
    """The Anthropic provider when `api_key` is set (non-blank), else the offline one.

    Raises `pricing.UnknownModel` for a model without a price: its spend could not be held to a budget.
    """
    if api_key is None or not api_key.get_secret_value().strip():
        return OfflineProvider()
    # Imported here: the SDK takes a second or more to import, and offline runs never need it.
    from pipeline.llm.anthropic import AnthropicProvider

    database.create_all()
    ledger = UsageLedger(database, budgets)
    return AnthropicProvider(
        api_key=api_key, model=model, ledger=ledger, base_url=base_url, timeouts=timeouts, retry=retry
    )


class OfflineNotice:
    """Says once per process (per instance) that no model is configured; silent for a real provider."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._said = False

    def __call__(self, provider: LLMProvider) -> None:
        if provider.offline and not self._said:
            self._said = True
            self._emit(OFFLINE_NOTICE)
