"""Pure pieces: the defensive JSON readers, the timeline, the chart geometry, the filters."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.dashboard.charts import bar_chart
from bot.dashboard.forgecache import ForgeViewCache, view_key
from bot.dashboard.readmodel import CellState, TimelineEvent, timeline
from bot.dashboard.rendering import duration, safe_url
from bot.dashboard.views import DecisionView, ReportView, spec_score
from pipeline.ledger import IntentState, Ledger
from pipeline.state import Database
from tests.dashboard.rig import decision
from tests.fixtures.clock import ManualClock
from tests.fixtures.records import enter

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
keys = st.sampled_from(["action", "matched", "errors", "alignment", "approvers", "spec", "tests", "deploys"])


@given(st.dictionaries(keys, json_values, max_size=8) | json_values)
def test_any_json_reads_without_raising(raw: Any) -> None:
    DecisionView.of(raw)
    ReportView.of(raw)
    spec_score(raw)


def test_a_real_decision_reads_fully() -> None:
    view = DecisionView.of(decision("svc", approvers=("bob",)))
    assert view is not None
    assert (view.action, view.approvals_required, view.approvers) == ("requires_approval", 1, ["bob"])
    assert view.matched[0].source == "policies/default.yaml:3"
    assert (view.alignment.score, view.alignment.method) == (0.82, "lexical")


def test_the_timeline_follows_the_latest_event_of_each_stage() -> None:
    cells = timeline(
        [
            TimelineEvent("spec", "started", None, ""),
            TimelineEvent("spec", "failed", 300, "gate"),
            TimelineEvent("spec", "started", None, "retry"),
            TimelineEvent("code", "skipped", None, ""),
            TimelineEvent("not-a-stage", "succeeded", 1, ""),
        ]
    )
    states = {cell.stage.value: cell.state for cell in cells}
    assert states["spec"] is CellState.RUNNING and states["code"] is CellState.SKIPPED
    assert states["received"] is CellState.PENDING
    assert len(cells) == 9


def test_bars_scale_to_the_largest_value() -> None:
    chart = bar_chart("t", [("a", 1.0, "1"), ("b", 4.0, "4"), ("c", 0.0, "0")], width=300, height=200)
    heights = [bar.height for bar in chart.bars]
    assert heights[1] == max(heights) and heights[0] == heights[1] / 4 and heights[2] == 0
    assert all(bar.y + bar.height == chart.baseline for bar in chart.bars)
    assert bar_chart("empty", []).empty and not chart.empty


def test_durations_read_like_a_person_would_say_them() -> None:
    assert [duration(v) for v in (0, 999, 1500, 65_000, 7_500_000, None, -1, True)] == [
        "0 ms",
        "999 ms",
        "1.5 s",
        "1 min 05 s",
        "2 h 05 min",
        "",
        "",
        "",
    ]


def test_only_http_links_survive() -> None:
    assert safe_url("https://x.example/a") == "https://x.example/a"
    assert safe_url("JavaScript:alert(1)") == "" and safe_url(None) == ""


def test_forge_views_are_reused_briefly_and_go_stale_with_the_ledger(database: Database) -> None:
    ledger = Ledger(database)
    record, _ = ledger.receive(repo="a/b", path="intents/x.yaml", service_name="x", content_hash="h")
    clock = ManualClock()
    cache: ForgeViewCache[str] = ForgeViewCache(ttl_seconds=10, clock=clock.time)
    cache.put(view_key("Alice", record), "seen")
    assert cache.get(view_key("alice", record)) == "seen"
    enter(ledger, record.id, IntentState.AWAITING_SIGNOFF, head_sha="abc")
    assert cache.get(view_key("alice", ledger.get(record.id))) is None, "a ledger change makes it stale"
    clock.advance(11)
    assert cache.get(view_key("alice", record)) is None, "and so does time"
    clock.advance(-11)
    cache.forget("ALICE", record.id)
    assert cache.get(view_key("alice", record)) is None, "and so does acting on it"
    off: ForgeViewCache[str] = ForgeViewCache(ttl_seconds=0)
    off.put(view_key("alice", record), "seen")
    assert off.get(view_key("alice", record)) is None
