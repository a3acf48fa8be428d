"""The assembly-line monitor's rules, metrics, plans and filings, on a real state database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import build_app
from pipeline.intents import load_intent
from pipeline.ledger import Ledger
from pipeline.monitor import FilingStore, Plan, line_metrics, load_rule_dir, load_rules, plan_rules
from pipeline.monitor.report import pull_body
from pipeline.monitor.rules import SHIPPED_RULES
from pipeline.state import Database
from tests.fixtures.line_history import seed_built, seed_high_rounds, spec_report

REPO = "acme/intents"
ROUNDS_RULE = "optimizer-rounds-high"


def shipped():  # type: ignore[no-untyped-def]
    loaded = load_rule_dir(SHIPPED_RULES)
    assert loaded.problems == ()
    return loaded.rules


def plan(database: Database, *, open_pulls=None, filed_today=0, max_per_day=2, taken=lambda _n: False):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    return {
        o.rule.name: o
        for o in plan_rules(
            shipped(),
            metrics_for=lambda days: line_metrics(database, repo=REPO, days=days, now=now),
            open_pulls=open_pulls or {},
            filed_today=filed_today,
            max_per_day=max_per_day,
            taken=taken,
        )
    }


def test_high_optimizer_rounds_fire_the_rule_with_a_spec_builder_whose_wording_answers_the_findings(
    database: Database,
) -> None:
    seed_high_rounds(Ledger(database), REPO)
    seed_built(Ledger(database), "someone/else", "other", spec_report("other", rounds=0, score=95))
    outcomes = plan(database, taken=lambda name: name == "spec-builder-v2")
    fired = outcomes[ROUNDS_RULE]
    assert fired.plan is Plan.FILE
    assert fired.variables["optimizer_rounds"] == {"count": 4, "median": 2.5, "mean": 2.5, "max": 3}
    assert fired.intent_path == "intents/spec-builder-v3.yaml", "v2 is taken: the next free version"
    intent = load_intent(fired.intent_text, source=fired.intent_path)
    assert intent.implements == "spec-builder@1"
    wording = intent.stage_hints.wording  # type: ignore[union-attr]
    assert set(wording) == {"fast", "easily", "quick"}
    assert all("measurable" not in text for text in wording.values())
    body = pull_body(fired)
    assert "`intents/tool-1.yaml` | 3 |" in body and "`vague-word` | 10 | 10 |" in body
    assert "never\nauto-approved and never merged by the bot" in body
    assert outcomes["signoff-wait-long"].plan is Plan.QUIET


def test_a_rule_with_an_open_pull_request_or_past_the_days_limit_files_nothing(database: Database) -> None:
    seed_high_rounds(Ledger(database), REPO)
    assert plan(database, open_pulls={ROUNDS_RULE: 7})[ROUNDS_RULE].plan is Plan.OPEN
    assert plan(database, filed_today=2, max_per_day=2)[ROUNDS_RULE].plan is Plan.DAILY_LIMIT
    assert plan(database, max_per_day=0)[ROUNDS_RULE].plan is Plan.DAILY_LIMIT


def test_low_rounds_or_too_few_specs_stay_quiet(database: Database) -> None:
    ledger = Ledger(database)
    for n in range(5):
        seed_built(ledger, REPO, f"calm-{n}", spec_report(f"calm-{n}", rounds=n % 2, score=95))
    assert plan(database)[ROUNDS_RULE].plan is Plan.QUIET
    seed_high_rounds(Ledger(database), "acme/young", count=2)
    now = datetime.now(UTC)
    young = line_metrics(database, repo="acme/young", days=7, now=now)
    assert young.variables()["optimizer_rounds"]["count"] == 2
    old = line_metrics(database, repo=REPO, days=7, now=now + timedelta(days=8))
    assert old.variables()["optimizer_rounds"]["count"] == 0, "builds older than the window do not count"


def test_one_open_filing_per_rule_and_at_most_the_days_slots(database: Database) -> None:
    store = FilingStore(database)
    first = store.claim(REPO, rule="a", path="intents/x-v2.yaml", max_per_day=2)
    assert first is not None
    assert store.claim(REPO, rule="a", path="intents/x-v3.yaml", max_per_day=2) is None
    assert store.claim(REPO, rule="b", path="intents/y-v2.yaml", max_per_day=2) is not None
    store.close(first.id)
    assert store.claim(REPO, rule="a", path="intents/x-v3.yaml", max_per_day=2) is None, "2 a day"
    assert store.filed_today(REPO) == 2
    assert store.claim("acme/other", rule="a", path="intents/x-v2.yaml", max_per_day=2) is not None
    assert [f.rule for f in store.open_filings(REPO)] == ["b"]
    resumed = store.unfinished(REPO, "b")
    assert resumed is not None and resumed.pr_number is None, "a filing stopped half-way is finished on retry"
    store.note_pull(resumed.id, 12)
    assert store.unfinished(REPO, "b") is None


BAD_RULES = [
    ("monitors:\n  - name: x\n", 2, "description: Field required"),
    (
        "monitors:\n  - name: x\n    description: d\n    window_days: 7\n    when: rounds > 1\n"
        "    propose: {intent: {service_name: 'a-v{n}', purpose: Keep notes for the team.}}\n",
        5,
        "when: unknown variable rounds",
    ),
    (
        "monitors:\n  - name: x\n    description: d\n    window_days: 7\n    when: gate.rate < 0.5\n"
        "    propose:\n      intent: {service_name: fixed-name, purpose: Keep notes for the team.}\n",
        7,
        "must hold {n}",
    ),
    (
        "monitors:\n  - name: x\n    description: d\n    window_days: 7\n    when: gate.rate < 0.5\n"
        "    propose:\n      intent: {service_name: 'a-v{n}', purpose: Keep notes., colour: red}\n",
        7,
        "not a valid intent",
    ),
    (
        "monitors:\n  - name: x\n    description: d\n    window_days: 7\n    when: gate.rate < 0.5\n"
        "    cooldown: 3\n    propose: {intent: {service_name: 'a-v{n}', purpose: Keep notes.}}\n",
        6,
        "cooldown: Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_RULES)
def test_a_rule_that_does_not_load_is_named_with_its_file_and_line(
    text: str, line: int, message: str
) -> None:
    loaded = load_rules([("monitors/bad.yaml", text.encode())])
    assert loaded.rules == ()
    (problem,) = loaded.problems
    assert problem.file == "monitors/bad.yaml" and problem.line == line, problem
    assert message in problem.message, problem


def test_intentops_monitor_once_says_what_it_would_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTENTOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTENTOPS_REPO", REPO)
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    database.create_all()
    seed_high_rounds(Ledger(database), REPO)
    database.dispose()
    runner = CliRunner()
    result = runner.invoke(build_app(), ["monitor", "--once", "--format", "json"])
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    (fired,) = [r for r in report["rules"] if r["fired"]]
    assert fired["rule"] == ROUNDS_RULE and fired["would_file"] == "intents/spec-builder-v2.yaml"
    assert fired["evidence"]["vague_words"][0] == {"word": "fast", "specs": 3}
    text = runner.invoke(build_app(), ["monitor", "--once"])
    assert "would file intents/spec-builder-v2.yaml" in text.stdout and text.exit_code == 3
    assert runner.invoke(build_app(), ["monitor"]).exit_code == 2
