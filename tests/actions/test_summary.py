"""The end of a run: its exit code and job summary from what it did (a real ledger's records)."""

from __future__ import annotations

from pathlib import Path

from bot.actions.drive import DeadJob, RunReport
from bot.actions.summary import ExitCode, exit_code, outputs, render_summary
from pipeline.ledger import Event, IntentRecord, Ledger
from pipeline.state import Database


def _records(tmp_path: Path) -> tuple[IntentRecord, IntentRecord]:
    database = Database(f"sqlite:///{tmp_path / 'state.db'}")
    database.create_all()
    ledger = Ledger(database)
    bad, _ = ledger.receive(repo="acme/intents", path="intents/a|b.yaml", service_name="ab", content_hash="1")
    ledger.apply(bad.id, Event.INVALID, reason="a fix: intents/a|b.yaml:3:1: owner: unknown field")
    good, _ = ledger.receive(
        repo="acme/intents", path="intents/notes.yaml", service_name="notes", content_hash="2"
    )
    ledger.update(good.id, pr_number=7, pr_url="http://forge.test/acme/intents/pull/7")
    return ledger.get(bad.id), ledger.get(good.id)


def test_a_refused_intent_exits_1_and_a_job_that_gave_up_exits_3(tmp_path: Path) -> None:
    bad, good = _records(tmp_path)
    done = RunReport("push", "queued", (good,), (), (), timed_out=False)
    refused = RunReport("push", "queued", (bad, good), (), ("deploy:acme/intents:7:abc",), timed_out=False)
    broken = RunReport(
        "push", "queued", (good,), (DeadJob("intent.build", "k", "Unavailable: 502"),), (), False
    )
    assert [exit_code(r) for r in (done, refused, broken)] == [
        ExitCode.DONE,
        ExitCode.REFUSED,
        ExitCode.INCOMPLETE,
    ]
    assert exit_code(RunReport("push", "queued", (), (), (), timed_out=True)) is ExitCode.INCOMPLETE

    summary = render_summary(refused)
    assert summary.startswith("## IntentOps: push, handled")
    assert (
        "| `intents/a\\|b.yaml` | invalid |  | a fix: intents/a\\|b.yaml:3:1: owner: unknown field |"
        in summary
    )
    assert "[#7](http://forge.test/acme/intents/pull/7)" in summary
    assert "Deploys held for the deploy job:** 1" in summary and summary.rstrip().endswith("issue.")
    assert outputs(refused) == {"held-deploys": "1", "pull-requests": "7", "exit-code": "1"}
    assert "**Gave up:** `intent.build` `k`: Unavailable: 502" in render_summary(broken)
