"""Team approvers on GitHub: the adapter asks GitHub's team membership endpoint, served here on 127.0.0.1
with GitHub's answers (the embedded forge has no organizations; see test_signoff for that case)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bot.vcs.github import GithubRepoClient, token_connection
from tests.fixtures.servers import serve_app

NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
MEMBERS = {"dave": "active", "erin": "pending"}


def github_teams() -> FastAPI:
    app = FastAPI()

    @app.get("/orgs/acme/teams/{slug}")
    def team(slug: str) -> JSONResponse:
        if slug != "platform":
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse({"id": 1, "slug": "platform", "name": "Platform"})

    @app.get("/orgs/acme/teams/platform/memberships/{login}")
    def membership(login: str) -> JSONResponse:
        if login not in MEMBERS:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse(
            {"role": "member", "state": MEMBERS[login], "url": f"/teams/1/memberships/{login}"}
        )

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[GithubRepoClient]:
    with serve_app(github_teams()) as url:
        yield GithubRepoClient(token_connection("test-token", url), "acme/intents")


@pytest.mark.parametrize(
    ("team", "login", "member"),
    [
        ("@acme/platform", "dave", True),
        ("@acme/platform", "erin", False),  # invited, not yet a member
        ("@acme/platform", "mallory", False),
        ("@acme/finance", "dave", None),  # a team the bot cannot see: cannot tell
        ("@other/platform", "dave", None),
    ],
)
def test_team_membership_comes_from_github(
    client: GithubRepoClient, team: str, login: str, member: bool | None
) -> None:
    assert client.team_member(team, login) is member
