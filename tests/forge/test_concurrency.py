"""Concurrent writes that GitHub allows only once: merging a PR, opening a PR for the same head and base."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.fixtures.forge import ForgeKit, HookReceiver

RACERS = 6


@pytest.fixture
def api(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> Iterator[httpx.Client]:
    owner = forge_kit.user("owner")
    forge_kit.repo("owner/app")
    forge_kit.admin.add_webhook("owner/app", hook_receiver.url, events_=["pull_request"])
    clone = forge_kit.clone("owner/app", owner)
    forge_kit.push_branch(clone, "feature", {"f.txt": "f\n"}, "F")
    with httpx.Client(
        base_url=forge_kit.api_url, headers={"Authorization": f"token {owner.token}"}, timeout=30
    ) as client:
        yield client


def race(send: Callable[[httpx.Client], httpx.Response], client: httpx.Client) -> list[httpx.Response]:
    """`send` from RACERS threads at once, each on its own connection; the answers in no order."""
    barrier = threading.Barrier(RACERS)
    answers: list[httpx.Response] = []

    def one() -> None:
        with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=30) as own:
            barrier.wait(timeout=10)
            answers.append(send(own))

    threads = [threading.Thread(target=one) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == RACERS
    return answers


def test_concurrent_merges_of_one_pull_request_merge_it_once(
    forge_kit: ForgeKit, hook_receiver: HookReceiver, api: httpx.Client
) -> None:
    created = api.post("/repos/owner/app/pulls", json={"title": "F", "head": "feature", "base": "main"})
    number = created.json()["number"]
    main_before = api.get("/repos/owner/app/branches/main").json()["commit"]["sha"]

    answers = race(lambda c: c.put(f"/repos/owner/app/pulls/{number}/merge", json={}), api)

    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [405] * (RACERS - 1), [a.text for a in answers]
    refused = {a.json()["message"] for a in answers if a.status_code == 405}
    assert refused == {"Pull Request is not mergeable"}
    merged_sha = next(a.json()["sha"] for a in answers if a.status_code == 200)
    main = api.get("/repos/owner/app/commits/main").json()
    assert (main["sha"], [p["sha"] for p in main["parents"]][0]) == (merged_sha, main_before)
    pull = api.get(f"/repos/owner/app/pulls/{number}").json()
    assert (pull["merged"], pull["merge_commit_sha"], pull["state"]) == (True, merged_sha, "closed")
    # Every delivery has an outcome, and only one says the PR was closed.
    forge_kit.settled_deliveries("owner/app", 3)  # ping, opened, closed
    assert len(hook_receiver.wait_for("pull_request", "closed")) == 1
    assert [d.action for d in forge_kit.admin.deliveries("owner/app")] == [None, "opened", "closed"]


def test_concurrent_creations_for_one_head_and_base_open_one_pull_request(api: httpx.Client) -> None:
    answers = race(
        lambda c: c.post("/repos/owner/app/pulls", json={"title": "F", "head": "feature", "base": "main"}),
        api,
    )

    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [422] * (RACERS - 1), [a.text for a in answers]
    refusals = [a.json()["errors"][0]["message"] for a in answers if a.status_code == 422]
    assert set(refusals) == {"A pull request already exists for owner:feature."}
    assert len(api.get("/repos/owner/app/pulls").json()) == 1
