"""Deployments through the GitHub adapter: a retried deploy reports on the deployment it already started."""

from __future__ import annotations

from bot.vcs.github import GithubRepoClient, token_connection
from bot.vcs.models import DeploymentState
from tests.fixtures.forge import ForgeKit

REPO = "acme/intents"
ENVIRONMENT = "intentops-hello-world"


def _client(kit: ForgeKit) -> tuple[GithubRepoClient, str]:
    owner = kit.user("acme")
    info = kit.repo(REPO, files={"README.md": b"intents\n"})
    return GithubRepoClient(token_connection(owner.token, kit.api_url), REPO), info.head_sha


def _deployment_ids(kit: ForgeKit) -> list[int]:
    viewer = kit.user("ann")
    kit.admin.add_collaborator(REPO, "ann", "read")
    return [d.id for d in kit.github(viewer).get_repo(REPO).get_deployments()]


def test_a_retry_reuses_the_deployment_its_first_attempt_started(forge_kit: ForgeKit) -> None:
    client, sha = _client(forge_kit)
    payload = {"service": "hello-world"}

    first = client.start_deployment(sha, ENVIRONMENT, payload)
    client.deployment_status(first, DeploymentState.IN_PROGRESS, "deploying")
    cut_short = client.start_deployment(sha, ENVIRONMENT, payload)
    client.deployment_status(first, DeploymentState.SUCCESS, "serving")
    after_success = client.start_deployment(sha, ENVIRONMENT, payload)

    assert cut_short == after_success == first
    assert _deployment_ids(forge_kit) == [first]


def test_a_deploy_after_a_failed_one_is_a_new_deployment(forge_kit: ForgeKit) -> None:
    client, sha = _client(forge_kit)
    payload = {"service": "hello-world"}
    first = client.start_deployment(sha, ENVIRONMENT, payload)
    client.deployment_status(first, DeploymentState.FAILURE, "not healthy")

    again = client.start_deployment(sha, ENVIRONMENT, payload)
    other_service = client.start_deployment(sha, ENVIRONMENT, {"service": "notes"})

    assert len({first, again, other_service}) == 3
    assert client.start_deployment(sha, ENVIRONMENT, payload) == again
