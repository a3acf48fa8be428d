"""Sign-in, sessions, CSRF and the session secret, against a real dashboard and a real forge."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.dashboard import DashboardConfigError
from bot.dashboard.sessions import SESSION_COOKIE, session_secret
from bot.settings import Settings
from tests.dashboard.rig import Rig, csrf_of

PAGES = ["/", "/approvals", "/services", "/analytics", "/intents/1", "/queue/table", "/live"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_stranger_to_sign_in(rig: Rig, path: str) -> None:
    with rig.client() as client:
        response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def test_a_forge_token_signs_in_and_the_page_names_the_user(rig: Rig) -> None:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        page = client.get("/")
    assert page.status_code == 200
    assert "alice" in page.text and "Sign out" in page.text


def test_a_token_the_forge_refuses_is_refused_and_not_echoed(rig: Rig) -> None:
    bogus = "ghp_not-a-real-token-0123456789"
    with rig.client() as client:
        form = client.get("/signin")
        response = client.post("/signin", data={"csrf_token": csrf_of(form.text), "token": bogus})
        after = client.get("/")
    assert response.status_code == 401
    assert "did not accept this token" in response.text
    assert bogus not in response.text
    assert after.status_code == 303, "a refused token must not leave a session behind"


def test_sign_in_without_the_csrf_token_fails(rig: Rig) -> None:
    with rig.client() as client:
        client.get("/signin")
        response = client.post("/signin", data={"token": rig.people.approver.token})
        after = client.get("/")
    assert response.status_code == 403
    assert after.status_code == 303


def test_no_page_and_no_cookie_carries_the_token(rig: Rig) -> None:
    token = rig.people.approver.token
    rig.open_pull("no-leak")
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        bodies = [client.get(path).text for path in PAGES[:-1]]
        cookie = client.cookies.get(SESSION_COOKIE) or ""
    assert all(token not in body for body in bodies)
    assert token not in cookie
    assert token[4:20] not in cookie, "the cookie is only signed, so the token must not be in it at all"


def test_sign_out_ends_the_session_even_for_a_replayed_cookie(rig: Rig) -> None:
    with rig.client() as client:
        rig.sign_in(client, rig.people.approver)
        stolen = client.cookies.get(SESSION_COOKIE)
        page = client.get("/")
        signed_out = client.post("/signout", data={"csrf_token": csrf_of(page.text)})
    assert signed_out.status_code == 303
    with rig.client() as replay:
        replay.cookies.set(SESSION_COOKIE, stolen or "")
        assert replay.get("/").status_code == 303


def test_sign_in_only_redirects_to_this_server(rig: Rig) -> None:
    with rig.client() as client:
        form = client.get("/signin")
        response = client.post(
            "/signin",
            data={
                "csrf_token": csrf_of(form.text),
                "token": rig.people.approver.token,
                "next": "//evil.example/steal",
            },
        )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_pages_forbid_framing_and_foreign_scripts(rig: Rig) -> None:
    with rig.client() as client:
        page = client.get("/signin")
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("secret", [None, "changeme", "short-but-real"])
def test_outside_development_a_missing_weak_or_placeholder_secret_is_refused(secret: str | None) -> None:
    settings = Settings.model_validate({"INTENTOPS_ENV": "production"})
    settings = settings.model_copy(update={"dashboard_secret": SecretStr(secret) if secret else None})
    with pytest.raises(DashboardConfigError, match="INTENTOPS_DASHBOARD_SECRET"):
        session_secret(settings)


def test_settings_refuse_a_placeholder_dashboard_secret_outside_development() -> None:
    with pytest.raises(ValueError, match="dashboard_secret is a placeholder"):
        Settings.model_validate({"INTENTOPS_ENV": "production", "INTENTOPS_DASHBOARD_SECRET": "changeme"})


def test_development_without_a_secret_gets_a_random_one_per_process() -> None:
    settings = Settings.model_validate({"INTENTOPS_ENV": "development"})
    assert session_secret(settings) != session_secret(settings)
    real = "x" * 40
    production = Settings.model_validate({"INTENTOPS_ENV": "production", "INTENTOPS_DASHBOARD_SECRET": real})
    assert session_secret(production) == real


def test_an_expired_session_sends_the_live_table_to_sign_in_instead_of_swapping_in_a_form(rig: Rig) -> None:
    with rig.client() as client:
        response = client.get("/queue/table", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/signin?next=%2Fqueue%2Ftable"
