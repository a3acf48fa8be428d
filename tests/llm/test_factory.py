"""Choosing the provider from settings, the offline provider, and the one-time offline notice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.llm import LLMProvider, LLMRequest, LLMUnavailable
from pipeline.llm.anthropic import AnthropicProvider
from pipeline.llm.factory import OFFLINE_NOTICE, OfflineNotice, build_provider
from pipeline.llm.offline import OfflineProvider
from pipeline.llm.pricing import UnknownModel
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database
from tests.conftest import EXAMPLES, ROOT
from tests.fixtures.anthropic_api import FakeMessagesAPI
from tests.llm.conftest import API_KEY, GENEROUS, MODEL, ProviderFactory

INTENTOPS = Path(sys.executable).parent / "intentops"


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


def run_offline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("ANTHROPIC_", "INTENTOPS_"))
    }
    return subprocess.run(
        [str(INTENTOPS), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_every_command_that_needs_a_model_says_once_that_it_runs_offline(tmp_path: Path) -> None:
    intent = str(EXAMPLES / "intents" / "hello-world.yaml")
    policies = str(ROOT / "policies")

    runs = {
        "spec": run_offline(tmp_path, "spec", intent, "-o", "svc"),
        "generate": run_offline(tmp_path, "generate", "svc/spec.json", "-o", "out"),
        "govern": run_offline(tmp_path, "govern", intent, "--policies", policies),
        # The bot builds its provider first, then refuses to start without a forge: the notice is said.
        "bot serve": run_offline(tmp_path, "bot", "serve", "--port", "1"),
    }

    for command, result in runs.items():
        assert result.stderr.count(OFFLINE_NOTICE) == 1, (command, result.stderr)
        assert OFFLINE_NOTICE not in result.stdout, command
    assert runs["spec"].returncode == runs["generate"].returncode == runs["govern"].returncode == 0


def test_a_given_score_needs_no_model_and_says_nothing(tmp_path: Path) -> None:
    intent = str(EXAMPLES / "intents" / "hello-world.yaml")
    result = run_offline(
        tmp_path, "govern", intent, "--policies", str(ROOT / "policies"), "--alignment-score", "0.9"
    )
    assert result.returncode == 0 and OFFLINE_NOTICE not in result.stderr
