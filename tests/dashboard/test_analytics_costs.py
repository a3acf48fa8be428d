"""The Analytics page: what each service cost this month (build, sandbox, uptime, its containers' CPU and
memory, model), priced by the rate card, with the month's totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.deploy.samples import GB, ContainerSample, ContainerSamples
from pipeline.ledger import Outcome, Stage
from tests.dashboard.rig import Rig


def test_analytics_shows_the_cost_of_each_service_this_month(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    intent = rig.receive("costly-notes")
    rig.ledger.record(intent, Stage.SPEC, Outcome.SUCCEEDED, duration_ms=1500)
    rig.ledger.record(intent, Stage.TESTS, Outcome.SUCCEEDED, duration_ms=3000)
    rig.ledger.record(
        intent,
        Stage.DEPLOYED,
        Outcome.SUCCEEDED,
        at=max(now - timedelta(hours=2), now.replace(day=1, hour=0, minute=0)),
    )
    started = max(now - timedelta(hours=2), now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    ContainerSamples(rig.db).add(
        ContainerSample("c1", "costly-notes", "v1", started, started + timedelta(hours=1), 42 * 10**9, GB)
    )
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        page = client.get("/analytics").text
    row = page[page.index('id="cost-costly-notes"') :]
    row = row[: row.index("</tr>")]
    assert "1.5 s</td><td>3.0 s</td>" in row, row
    assert "<td>42.0 s</td><td>1.0000 GB·h</td>" in row, row
    assert f"Cost per service in {now:%Y-%m}: compute $" in page and "+ model $0.0000 =" in page
    assert 'id="not-sampled"' not in page, "the local backend has no containers to sample"

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # an engine that does not answer
    rig.restart(deploy_backend="docker")
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        page = client.get("/analytics").text
    assert 'id="not-sampled"' in page and "as of their last sample" in page
    assert "<td>42.0 s</td><td>1.0000 GB·h</td>" in page
