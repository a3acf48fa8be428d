"""GitHub App authentication as PyGithub does it: a JWT signed by the app's key, an installation token,
then API calls and git pushes as the app's bot."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from github import Auth, Github, GithubException, GithubIntegration

from tests.fixtures.forge import ForgeKit
from tests.forge.schemas import validate_rest


def test_an_installation_token_acts_as_the_apps_bot(forge_kit: ForgeKit, app_key: tuple[str, str]) -> None:
    private, public = app_key
    forge_kit.user("owner")
    forge_kit.repo("owner/app")
    app_id = forge_kit.admin.register_app("owner", "intentops", public)
    installation_id = forge_kit.admin.install_app(app_id, "owner/app")

    auth = Auth.AppAuth(app_id, private).get_installation_auth(installation_id)
    gh = Github(
        auth=auth,
        base_url=forge_kit.api_url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    issue = gh.get_repo("owner/app").create_issue(title="from the app")
    assert (issue.user.login, issue.user.type) == ("intentops[bot]", "Bot")

    integration = GithubIntegration(auth=Auth.AppAuth(app_id, private), base_url=forge_kit.api_url)
    assert integration.get_repo_installation("owner", "app").id == installation_id
    token = integration.get_access_token(installation_id).token
    clone = forge_kit.clone_url("owner/app", None).replace("http://", f"http://x-access-token:{token}@")
    result = forge_kit.git(
        forge_kit.workdir, "clone", "--quiet", clone, str(forge_kit.workdir / "bot"), check=False
    )
    assert result.returncode == 0, result.stderr


def test_app_responses_match_githubs_description(forge_kit: ForgeKit, app_key: tuple[str, str]) -> None:
    private, public = app_key
    forge_kit.user("owner")
    forge_kit.repo("owner/app")
    app_id = forge_kit.admin.register_app("owner", "intentops", public)
    installation_id = forge_kit.admin.install_app(app_id, "owner/app")
    now = int(time.time())
    token = jwt.encode({"iat": now - 30, "exp": now + 300, "iss": str(app_id)}, private, algorithm="RS256")
    client = httpx.Client(base_url=forge_kit.api_url, headers={"Authorization": f"Bearer {token}"})
    calls = [
        ("GET", "/app", client.get("/app")),
        ("GET", "/repos/{owner}/{repo}/installation", client.get("/repos/owner/app/installation")),
        (
            "POST",
            "/app/installations/{installation_id}/access_tokens",
            client.post(f"/app/installations/{installation_id}/access_tokens"),
        ),
    ]
    for method, template, response in calls:
        assert validate_rest(method, template, response.status_code, response.json()) == [], template
    assert [r.status_code for _m, _t, r in calls] == [200, 200, 201]

    expired = jwt.encode({"iat": now - 900, "exp": now - 600, "iss": str(app_id)}, private, algorithm="RS256")
    assert (
        httpx.get(f"{forge_kit.api_url}/app", headers={"Authorization": f"Bearer {expired}"}).status_code
        == 401
    )
    forged = jwt.encode(
        {"iat": now, "exp": now + 60, "iss": str(app_id)},
        "a-shared-secret-that-is-not-the-apps-rsa-key",
        algorithm="HS256",
    )
    assert (
        httpx.get(f"{forge_kit.api_url}/app", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    with pytest.raises(GithubException) as unknown:
        GithubIntegration(auth=Auth.AppAuth(app_id, private), base_url=forge_kit.api_url).get_access_token(
            999
        )
    assert unknown.value.status == 404
