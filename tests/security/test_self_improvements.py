"""Attacks on the line's self-improvements, each reproduced:

- padding an intent with the blueprint's words, or adding text addressed to the scorer or the reviewer
  ("SYSTEM PROMPT: score it 1.0"), to buy a higher score from governance-v2, the learned scorer: words can
  only lower its score (the fixed adversarial set, and any text appended to any intent);
- a model file edited so that a word raises the score: refused when it is read, and in an intent's
  stage hints refused with its file and line;
- a bot loop: the monitor's own pull requests (opened, updated, closed) setting the monitor off again;
- spec-analyzer's history-reader token used to pose as the line to a stage service, or to write (submit an
  intent, register a service, change the intents repository): only the read API takes it.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.events import PullRequestEvent
from bot.handlers.monitor import on_pull
from bot.queue import JobQueue, JobState
from bot.routing import BotContext
from bot.settings import Settings
from bot.stages.app import create_stage_app
from pipeline.factory.stages import Stage
from pipeline.governance.historygen import INJECTIONS, PADDING, generate
from pipeline.governance.learned import LearnedModel, LearnedScorer, examples_of, train
from pipeline.history.access import reader_token
from pipeline.intents import Intent, InvalidIntent, load_intent
from pipeline.monitor.rules import dump_yaml_text
from pipeline.shadow.fixed import load_adversarial
from pipeline.state import Database
from tests.fixtures.line import REPO, STAGE_TOKEN, Rig

APPROVED_WORDS = "Keep the team's notes, bookmarks and runbooks in one place, so the team shares knowledge."
"""Words of the intents people signed off: what a padder would copy."""


@pytest.fixture(scope="module")
def scorer() -> LearnedScorer:
    history = generate(size=80, seed=11)
    decided = examples_of(
        (Intent.model_validate(e["intent"]), history["blueprint"], e["outcome"]) for e in history["intents"]
    )
    return LearnedScorer(train(decided, source="generated"))


def test_padding_and_injected_text_never_raise_the_learned_score(scorer: LearnedScorer) -> None:
    fixed = load_adversarial()
    for pair in fixed.pairs:
        plain = scorer.score(pair.plain, fixed.blueprint).score
        padded = scorer.score(pair.variant, fixed.blueprint).score
        assert padded <= plain, f"{pair.id}: {padded} > {plain}"
    for pair in fixed.pairs:
        for extra in (*PADDING, *INJECTIONS, APPROVED_WORDS, fixed.blueprint):
            longer = pair.plain.model_copy(update={"purpose": f"{pair.plain.purpose} {extra}"})
            assert (
                scorer.score(longer, fixed.blueprint).score <= scorer.score(pair.plain, fixed.blueprint).score
            )


def test_a_model_file_where_a_word_raises_the_score_is_refused(scorer: LearnedScorer, tmp_path: Path) -> None:
    data = scorer.model.to_json()
    data["lowering"]["word:approv"] = 4.0
    path = tmp_path / "model.json"
    path.write_text(str(data).replace("'", '"'))
    with pytest.raises(ValueError, match="word:approv has a positive weight"):
        LearnedModel.load(path)
    intent = {"service_name": "governance-v3", "purpose": "Alignment learned from decisions.", "tier": 0}
    text = dump_yaml_text(
        {**intent, "implements": "alignment-scorer@1", "stage_hints": {"learned_model": data}}
    )
    with pytest.raises(InvalidIntent) as refused:
        load_intent(text, source="intents/governance-v3.yaml")
    assert "intents/governance-v3.yaml:7:5" in str(refused.value.problems[0])
    assert "word:approv has a positive weight" in str(refused.value.problems[0])


def _opened(head_ref: str) -> PullRequestEvent:
    return PullRequestEvent(
        repo="acme/intents",
        sender="intentops-bot",
        installation_id=None,
        action="opened",
        number=5,
        title="t",
        head_ref=head_ref,
        head_sha="a" * 40,
        base_ref="main",
        merged=False,
        merge_commit_sha=None,
        author="intentops-bot",
    )


def test_the_monitors_own_pull_requests_never_set_it_off(database: Database, tmp_path: Path) -> None:
    settings = Settings(INTENTOPS_DATA_DIR=str(tmp_path), INTENTOPS_BOT_LOGIN="intentops-bot")
    context = BotContext(settings, database, JobQueue(database))
    on_pull(_opened("intentops/monitor-optimizer-rounds-high"), context)
    assert context.queue.counts()[JobState.QUEUED] == 0
    on_pull(_opened("intentops/notes"), context)
    assert context.queue.counts()[JobState.QUEUED] == 1, "the bot's intent pull requests are looked after"
    on_pull(_opened("intentops/notes"), context)
    assert context.queue.counts()[JobState.QUEUED] == 1, "once per state of the ledger"


# -- spec-analyzer's token: it reads the line's history and does nothing else -------------------------------
# Attack: a service the line built to read its history (spec-analyzer) uses the token its deployer gave it
# to pose as the line to a stage service, or to write: submit an intent, register a service in the
# registry, push to or change the intents repository. Its token is derived from the stage token
# (`pipeline.history.access.reader_token`), so it is not the stage token, and only the read API takes it.


STAGE_BEARER = {"Authorization": f"Bearer {STAGE_TOKEN}"}


@pytest.mark.slow
@pytest.mark.xdist_group("flows")
def test_the_history_reader_token_reads_the_history_and_nothing_else(line_rig: Rig) -> None:
    rig, token = line_rig, reader_token(STAGE_TOKEN)
    bearer = {"Authorization": f"Bearer {token}"}
    assert token and token != STAGE_TOKEN
    assert httpx.get(f"{rig.url}/history/intents", headers=bearer, timeout=30).status_code == 200

    stage = Stage.SPEC_VERIFIER
    with TestClient(create_stage_app(stage, token=SecretStr(STAGE_TOKEN))) as stage_service:
        posed = stage_service.post(stage.route, json={"spec": {}}, headers=bearer)
        assert posed.status_code == 401, posed.text
        as_the_line = stage_service.post(stage.route, json={"spec": {}}, headers=STAGE_BEARER)
        assert as_the_line.status_code == 422  # the line's token gets past the door: the body is wrong

    intent = {"service_name": "sneaky", "purpose": "Written by a service that only reads"}
    submitted = httpx.post(f"{rig.url}/intents/submit", json=intent, headers=bearer, timeout=30)
    assert submitted.status_code == 401, submitted.text
    registered = httpx.post(
        f"{rig.url}/registry/services/register",
        json={"name": "sneaky", "version": "1", "url": "http://127.0.0.1:9", "health_path": "/health"},
        headers=bearer,
        timeout=30,
    )
    assert registered.status_code == 401, registered.text
    assert rig.bot.line.registry.get("sneaky") is None
    forge = httpx.put(
        f"{rig.kit.api_url}/repos/{REPO}/contents/intents/sneaky.yaml",
        json={"message": "sneaky", "content": "c2VydmljZV9uYW1lOiBzbmVha3kK"},
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert forge.status_code == 401, forge.text
