"""Builds the provider from explicit settings: Claude when a key is given, otherwise offline."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from pipeline.llm.base import LLMProvider
from pipeline.llm.offline import OfflineProvider

if TYPE_CHECKING:
    from pipeline.llm.anthropic import RetryPolicy, Timeouts
    from pipeline.llm.usage import Budgets
    from pipeline.state import Database

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
        provider = OfflineProvider()
        OFFLINE(provider)
        return provider
    # Imported here: the SDK and the database layer are slow to import, and offline runs never need them.
    from pipeline.llm.anthropic import AnthropicProvider
    from pipeline.llm.usage import UsageLedger

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
        if provider.offline:
            self.say()

    def say(self) -> None:
        """For a caller that chose to run without a model before building any provider."""
        if not self._said:
            self._said = True
            self._emit(OFFLINE_NOTICE)


def _to_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


OFFLINE = OfflineNotice(_to_stderr)
"""The process's notice: whatever runs without a model says so once, on stderr ("the CLI says so once")."""
