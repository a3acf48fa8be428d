"""The live stream: a marker first, a new one when the ledger changes; the queue fragment it triggers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

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
            stream = (data for event, data in events(response.iter_lines()) if event == "ledger")
            first = next(stream)
            intent = rig.receive("live-one")
            second = next(stream)
            rig.ledger.record(intent, Stage.GOVERNED, Outcome.STARTED)
            third = next(stream)
    assert len({first, second, third}) == 3


def test_the_stream_announces_each_registry_change(rig: Rig) -> None:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        with client.stream("GET", "/live", timeout=httpx.Timeout(10.0)) as response:
            stream = (data for event, data in events(response.iter_lines()) if event == "registry")
            first = next(stream)
            rig.registry.register(name="streamed", version="1", url="http://127.0.0.1:9100")
            second = next(stream)
            rig.registry.heartbeat("streamed", "1")
            third = next(stream)
    assert len({first, second, third}) == 3


@pytest.mark.parametrize(
    ("path", "follows"),
    [("/services", ["registry"]), ("/approvals", ["ledger"]), ("/intents/{intent}", ["ledger", "registry"])],
)
def test_live_pages_carry_the_markers_they_were_rendered_with(
    rig: Rig, path: str, follows: list[str]
) -> None:
    intent = rig.receive("marked")
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        url = path.format(intent=intent)
        page = client.get(url).text
        region = page[page.index('id="live-region"') : page.index(">", page.index('id="live-region"'))]
        assert f'data-live="{" ".join(follows)}"' in region and f'hx-get="{url}"' in region
        before = {source: marker_of(region, source) for source in follows}
        rig.receive("changes-the-ledger")
        rig.registry.register(name="changes-the-registry", version="1", url="http://127.0.0.1:9101")
        after = client.get(url).text
    assert all(marker_of(after, source) != before[source] for source in follows)
    assert 'data-live-url="/live"' in page


def marker_of(html: str, source: str) -> str:
    attribute = f'data-marker-{source}="'
    return html.split(attribute)[1].split('"')[0]


def test_the_queue_fragment_carries_the_marker_the_page_compares(rig: Rig) -> None:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        before = client.get("/queue/table").text
        rig.receive("arrives-later")
        after = client.get("/queue/table").text
    assert before.startswith('\n<div id="queue-table"') or before.lstrip().startswith('<div id="queue-table"')
    assert "arrives-later" not in before and "arrives-later" in after
    assert marker_of(before, "ledger") != marker_of(after, "ledger")
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
