"""Mounted inside another app (the bot's), under /dashboard: links, forms and redirects keep the prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bot.dashboard import forge_context, mount_dashboard
from bot.settings import Settings
from pipeline.ledger import Ledger
from pipeline.registry import RegistryStore
from pipeline.state import Database, default_sqlite_url
from tests.dashboard.rig import AppServer, People, csrf_of
from tests.fixtures.forge import ForgeKit


@pytest.fixture
def bot_like(module_forge_kit: ForgeKit, people: People, tmp_path: Path) -> Iterator[tuple[str, Ledger]]:
    db = Database(default_sqlite_url(tmp_path))
    db.create_all()
    ledger = Ledger(db)
    host = FastAPI()

    @host.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    context = forge_context(
        db=db,
        ledger=ledger,
        registry=RegistryStore(db),
        api_base_url=module_forge_kit.api_url,
        bot_login=people.bot.login,
    )
    mount_dashboard(host, context, Settings.model_validate({}))
    server = AppServer(host).start()
    yield server.url, ledger
    server.stop()
    db.dispose()


def test_the_mounted_dashboard_keeps_its_prefix(bot_like: tuple[str, Ledger], people: People) -> None:
    url, ledger = bot_like
    ledger.receive(repo="acme/intents", path="intents/mounted.yaml", service_name="mounted", content_hash="h")
    with httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        stranger = client.get("/dashboard/")
        assert stranger.headers["location"] == "/dashboard/signin?next=%2Fdashboard%2F"
        form = client.get("/dashboard/signin")
        assert 'action="/dashboard/signin"' in form.text
        assert 'href="/dashboard/static/dashboard.css"' in form.text
        signed = client.post(
            "/dashboard/signin",
            data={"csrf_token": csrf_of(form.text), "token": people.approver.token, "next": "/dashboard/"},
        )
        assert signed.headers["location"] == "/dashboard/"
        page = client.get("/dashboard/")
        assert 'href="/dashboard/intents/1"' in page.text and 'data-live-url="/dashboard/live"' in page.text
        assert 'hx-get="/dashboard/services"' in client.get("/dashboard/services").text
        assert client.get("/dashboard/static/htmx.min.js").status_code == 200
