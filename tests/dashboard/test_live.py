"""The live stream: a marker first, a new one when the ledger changes; the queue fragment it triggers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from pipeline.ledger import Outcome, Stage
from tests.dashboard.rig import Rig


def events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream; pings (comments) are skipped."""
    event = data = ""
    for line in lines:
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data = line.removeprefix("data:").strip()
        elif line == "" and event:
            yield event, data
            event = data = ""


def test_the_stream_announces_each_ledger_change(rig: Rig) -> None:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        with client.stream("GET", "/live", timeout=httpx.Timeout(10.0)) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response.iter_lines())
            first = next(stream)
            intent = rig.receive("live-one")
            second = next(stream)
            rig.ledger.record(intent, Stage.GOVERNED, Outcome.STARTED)
            third = next(stream)
    assert first[0] == second[0] == third[0] == "ledger"
    assert len({first[1], second[1], third[1]}) == 3


def test_the_queue_fragment_carries_the_marker_the_page_compares(rig: Rig) -> None:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        before = client.get("/queue/table").text
        rig.receive("arrives-later")
        after = client.get("/queue/table").text
    assert before.startswith('\n<div id="queue-table"') or before.lstrip().startswith('<div id="queue-table"')
    assert "arrives-later" not in before and "arrives-later" in after
    marker = 'data-marker="'
    assert before.split(marker)[1].split('"')[0] != after.split(marker)[1].split('"')[0]
    assert "<html" not in after, "the fragment is the table alone"


def test_a_stream_ends_by_itself_and_tells_the_browser_to_come_back(rig: Rig) -> None:
    """A server shutting down waits for open responses; a stream that never ended would hold it up."""
    rig.server.app.state.stream_seconds = 0.5
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        with client.stream("GET", "/live", timeout=httpx.Timeout(10.0)) as response:
            lines = list(response.iter_lines())
    assert "retry: 500" in lines
    assert sum(1 for line in lines if line.startswith("event: ledger")) == 1
