"""Sign-ins live in the state database: they survive a restart, are shared by several dashboards, and end
when idle, at their absolute expiry, or on sign-out."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import text

from bot.dashboard import create_dashboard_app
from bot.dashboard.sessions import SESSION_COOKIE
from bot.dashboard.sessionstore import SessionStore
from tests.dashboard.rig import REPO, SECRET, AppServer, Rig, csrf_of
from tests.fixtures.clock import ManualClock


@contextmanager
def signed_in_client(rig: Rig) -> Iterator[httpx.Client]:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        yield client


def session_id_in(client: httpx.Client) -> str:
    """The session id inside the (signed, not encrypted) cookie."""
    payload = (client.cookies.get(SESSION_COOKIE) or "").split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    sid: str = data["sid"]
    return sid


def rows(rig: Rig) -> list[dict[str, object]]:
    with rig.db.engine.connect() as connection:
        result = connection.execute(text("SELECT * FROM dashboard_sessions"))
        return [dict(row) for row in result.mappings()]


def test_a_session_survives_a_restart_and_still_acts_as_the_user(rig: Rig) -> None:
    pull = rig.open_pull("after-restart")
    with signed_in_client(rig) as client:
        rig.restart()
        page = client.get("/approvals")
        assert page.status_code == 200 and "alice" in page.text
        approved = client.post(
            f"/approvals/{pull.intent_id}/approve",
            data={"csrf_token": csrf_of(page.text), "head_sha": pull.head_sha},
        )
    assert approved.status_code == 303, approved.text
    gh_pull = rig.github(rig.people.owner).get_repo(REPO).get_pull(pull.number)
    assert [(r.user.login, r.state) for r in gh_pull.get_reviews()] == [("alice", "APPROVED")]


def test_two_dashboards_on_one_database_share_sign_ins_and_sign_outs(rig: Rig) -> None:
    other = AppServer(create_dashboard_app(rig.context, rig.settings)).start()
    try:
        with signed_in_client(rig) as client:
            cookie = client.cookies.get(SESSION_COOKIE) or ""
            with httpx.Client(base_url=other.url, follow_redirects=False, timeout=30) as elsewhere:
                elsewhere.cookies.set(SESSION_COOKIE, cookie)
                page = elsewhere.get("/")
                assert page.status_code == 200 and "alice" in page.text
                assert elsewhere.post("/signout", data={"csrf_token": csrf_of(page.text)}).status_code == 303
            assert client.get("/").status_code == 303, "signed out on one, signed out on all"
    finally:
        other.stop()


def test_the_database_holds_neither_the_session_id_nor_the_forge_token(rig: Rig) -> None:
    with signed_in_client(rig) as client:
        sid = session_id_in(client)
        page = client.get("/").text
    [row] = rows(rig)
    assert row["id_hash"] == hashlib.sha256(sid.encode()).hexdigest()
    assert row["login"] == "alice" and row["csrf_token"] == csrf_of(page)
    stored = " ".join(str(value) for value in row.values())
    assert sid not in stored
    assert rig.people.approver.token not in stored and rig.people.approver.token[4:20] not in stored


def test_sign_out_deletes_the_session(rig: Rig) -> None:
    with signed_in_client(rig) as client:
        page = client.get("/")
        assert len(rows(rig)) == 1
        client.post("/signout", data={"csrf_token": csrf_of(page.text)})
    assert rows(rig) == []


def test_an_idle_session_sends_the_user_to_sign_in_and_is_deleted(rig: Rig) -> None:
    clock = ManualClock()
    rig.restart(clock=clock)
    with signed_in_client(rig) as idle, signed_in_client(rig) as busy:
        clock.advance(hours=4)
        assert busy.get("/").status_code == 200
        clock.advance(hours=4.1)  # 8.1 h since the idle one was last used, 4.1 h for the busy one
        response = idle.get("/approvals")
        assert busy.get("/").status_code == 200
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fapprovals"
    assert len(rows(rig)) == 1, "the idle session's row is gone"


def test_an_active_session_ends_at_its_absolute_expiry(rig: Rig) -> None:
    clock = ManualClock()
    rig.restart(clock=clock)
    with signed_in_client(rig) as client:
        for _ in range(3):
            clock.advance(hours=3.9)
            assert client.get("/").status_code == 200
        clock.advance(hours=0.2)  # 11.9 h in, used minutes ago
        assert client.get("/").status_code == 200
        clock.advance(hours=0.2)  # 12.1 h
        assert client.get("/").status_code == 303


def test_a_form_posted_after_the_session_ended_asks_to_sign_in_again(rig: Rig) -> None:
    clock = ManualClock()
    rig.restart(clock=clock)
    with signed_in_client(rig) as client:
        page = client.get("/")
        clock.advance(hours=9)
        response = client.post("/signout", data={"csrf_token": csrf_of(page.text)})
        form = client.get(response.headers["location"])
        signed_in = client.post(
            "/signin", data={"csrf_token": csrf_of(form.text), "token": rig.people.approver.token}
        )
    assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    assert form.status_code == 200
    assert signed_in.status_code == 303


def test_a_new_dashboard_secret_ends_every_session(rig: Rig) -> None:
    with signed_in_client(rig) as client:
        sid = session_id_in(client)
    clock = rig.context.clock

    def store(secret: str) -> SessionStore:
        return SessionStore(
            rig.db, secret=secret, idle_seconds=3600, lifetime_seconds=7200, clock=lambda: clock().timestamp()
        )

    assert store(SECRET).get(sid) is not None
    assert store("another-secret-0123456789-0123456789").get(sid) is None
    assert rows(rig) == [], "a session that can no longer be decrypted is deleted"
