"""spec-analyzer through the whole line (the real forge, bot, workers, sandbox, deployer and ledger): the
example intent declares the line's history as its data source and two reports; the line builds it above
the gate, two people sign it off (tier 0, a change of the line), it is deployed with the read API's address
and a read-only token of its own, and its answers are the line's reading of the same ledger
(`GET /history/spec-analysis`), read by the service itself, page by page.

The service's token is also checked here, on the same line (a line takes seconds to start): see
`tests/security/test_self_improvements.py` for the attack it reproduces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.history.access import ENV_HISTORY_TOKEN, ENV_HISTORY_URL, reader_token
from pipeline.ledger import IntentState
from tests.conftest import EXAMPLES
from tests.fixtures.line import REPO, STAGE_TOKEN, Rig
from tests.fixtures.line_history import seed_high_rounds
from tests.flows.test_signoff import approve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("flows")]

PATH = "intents/spec-analyzer.yaml"
TRENDS = ("specs", "since", "until", "findings", "weeks", "vague_words")
SUGGESTION = ("specs", "since", "until", "suggested_hints", "answers", "suggested_intent")


def deploy_spec_analyzer(rig: Rig) -> str:
    """Push the example, sign it off (two people), wait for the deploy; the service's URL."""
    seed_high_rounds(rig.ledger, REPO)
    rig.push({PATH: (EXAMPLES / "intents" / "spec-analyzer.yaml").read_text()}, "spec-analyzer")
    built = rig.wait_for(PATH, IntentState.AWAITING_SIGNOFF, timeout=300)
    assert built.pr_number is not None and built.head_sha is not None
    files = rig.github("bob").get_repo(REPO).get_pull(built.pr_number).get_files()
    assert "services/spec-analyzer/app/data_sources.json" in {f.filename for f in files}
    approve(rig, "bob", built.pr_number, built.head_sha)
    approve(rig, "acme", built.pr_number, built.head_sha)
    deployed = rig.wait_for(PATH, IntentState.DEPLOYED, IntentState.DEPLOY_FAILED, timeout=180)
    assert deployed.state is IntentState.DEPLOYED, rig.ledger.history(deployed.id)
    assert deployed.service_url
    return deployed.service_url


def process_environment(pid: int) -> dict[str, str]:
    """The environment a local process was started with."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().partition("=")[::2] for e in entries if b"=" in e)


def the_line_s_analysis(rig: Rig) -> dict[str, Any]:
    token = {"Authorization": f"Bearer {STAGE_TOKEN}"}
    answer = httpx.get(f"{rig.url}/history/spec-analysis", params={"repo": REPO}, headers=token, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_spec_analyzer_is_built_deployed_and_answers_with_the_ledger_s_trends(rig: Rig) -> None:
    url = deploy_spec_analyzer(rig)
    trends = httpx.get(f"{url}/spec-trends", params={"repo": REPO}, timeout=60)
    suggestion = httpx.get(f"{url}/spec-builder-suggestion", params={"repo": REPO}, timeout=60)
    assert trends.status_code == 200, trends.text
    assert suggestion.status_code == 200, suggestion.text
    line = the_line_s_analysis(rig)
    assert trends.json() == {key: line[key] for key in TRENDS}
    assert suggestion.json() == {key: line[key] for key in SUGGESTION}
    assert trends.json()["findings"][0]["code"] == "vague-word" and trends.json()["specs"] >= 4
    assert "spec-builder-v2" in suggestion.json()["suggested_intent"]

    # What the deployer handed it: the read API's address and the reader token, never the stage token.
    instance = next(i for i in rig.bot.line.deployer.running() if i.name == "spec-analyzer")
    started = process_environment(int(instance.handle))
    assert started[ENV_HISTORY_URL] == rig.url
    assert started[ENV_HISTORY_TOKEN] == reader_token(STAGE_TOKEN) != STAGE_TOKEN
    assert "STAGE_TOKEN" not in started
