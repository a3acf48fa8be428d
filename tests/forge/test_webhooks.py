"""Webhook deliveries: GitHub's headers and signatures, background delivery in order, receivers that are
down or slow, the delivery log and redelivery, the hooks API."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import httpx
from github import Github

from forge.admin import Account
from forge.webhooks import sign
from tests.fixtures.forge import ForgeKit, HookReceiver

SECRET = "webhook-secret"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _owner(kit: ForgeKit) -> tuple[Account, Github]:
    account = kit.user("owner")
    kit.repo("owner/app")
    return account, kit.github(account)


def test_signature_matches_githubs_documented_vector(shared_dir: Path) -> None:
    vector = json.loads((shared_dir / "github" / "signature-vector.json").read_text())
    assert sign(vector["secret"], vector["payload"].encode()) == vector["X-Hub-Signature-256"]


def test_deliveries_carry_githubs_headers(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    _account, gh = _owner(forge_kit)
    repo = gh.get_repo("owner/app")
    hook = repo.create_hook(
        "web", {"url": hook_receiver.url, "content_type": "json", "secret": SECRET}, ["*"]
    )
    (ping,) = hook_receiver.wait_for("ping")
    headers = ping.headers
    assert headers["x-github-hook-id"] == str(hook.id)
    assert headers["x-github-hook-installation-target-type"] == "repository"
    assert headers["x-github-hook-installation-target-id"] == str(repo.id)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("GitHub-Hookshot/")
    assert uuid.UUID(headers["x-github-delivery"])
    assert (
        headers["x-hub-signature-256"]
        == "sha256=" + hmac.new(SECRET.encode(), ping.body, hashlib.sha256).hexdigest()
    )
    assert (
        headers["x-hub-signature"] == "sha1=" + hmac.new(SECRET.encode(), ping.body, hashlib.sha1).hexdigest()
    )
    assert ping.payload["hook_id"] == hook.id and ping.payload["zen"]
    assert hook.config["secret"] == "********"  # never returned


def test_form_deliveries_sign_the_encoded_body(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    _account, gh = _owner(forge_kit)
    gh.get_repo("owner/app").create_hook(
        "web", {"url": hook_receiver.url, "content_type": "form", "secret": SECRET}, ["push"]
    )
    (ping,) = hook_receiver.wait_for("ping")
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert json.loads(parse_qs(ping.body.decode())["payload"][0])["hook"]["config"]["content_type"] == "form"
    assert ping.headers["x-hub-signature-256"] == sign(SECRET, ping.body)


def test_a_receiver_that_is_down_blocks_nothing(forge_kit: ForgeKit) -> None:
    account, gh = _owner(forge_kit)
    forge_kit.admin.add_webhook("owner/app", f"http://127.0.0.1:{_closed_port()}/hooks", events_=["*"])
    clone = forge_kit.clone("owner/app", account)
    sha = forge_kit.push_branch(clone, "main", {"a.txt": "a\n"}, "A")
    repo = gh.get_repo("owner/app")
    repo.get_commit(sha).create_status("success", context="ci")
    records = forge_kit.settled_deliveries("owner/app", 3)
    assert [(r.event, r.status_code) for r in records] == [("ping", 0), ("push", 0), ("status", 0)]
    assert all(r.status.startswith("failed to connect") for r in records)


def test_a_slow_receiver_does_not_slow_the_api(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    _account, gh = _owner(forge_kit)
    hook_receiver.delay_s = 1.0
    forge_kit.admin.add_webhook("owner/app", hook_receiver.url, events_=["status"])
    commit = gh.get_repo("owner/app").get_commit("main")
    started = time.monotonic()
    for n in range(3):
        commit.create_status("pending", context=f"ctx-{n}")
    assert time.monotonic() - started < 1.0
    assert len(hook_receiver.wait_for("status", count=3, timeout=15)) == 3


def test_events_of_a_repository_arrive_in_order(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    _account, gh = _owner(forge_kit)
    forge_kit.admin.add_webhook("owner/app", hook_receiver.url, events_=["status"])
    commit = gh.get_repo("owner/app").get_commit("main")
    for n in range(15):
        commit.create_status("pending", context="ordered", description=str(n))
    deliveries = hook_receiver.wait_for("status", count=15)
    assert [d.payload["description"] for d in deliveries] == [str(n) for n in range(15)]


def test_delivery_log_and_redelivery(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    account, gh = _owner(forge_kit)
    repo = gh.get_repo("owner/app")
    hook = repo.create_hook(
        "web", {"url": hook_receiver.url, "content_type": "json", "secret": SECRET}, ["*"]
    )
    forge_kit.settled_deliveries("owner/app", 1)
    summaries = list(repo.get_hook_deliveries(hook.id))
    assert [(s.event, s.status_code, s.redelivery) for s in summaries] == [("ping", 200, False)]
    detail = repo.get_hook_delivery(hook.id, summaries[0].id)
    assert detail.request.payload["hook_id"] == hook.id

    client = httpx.Client(base_url=forge_kit.api_url, headers={"Authorization": f"token {account.token}"})
    url = f"/repos/owner/app/hooks/{hook.id}/deliveries/{summaries[0].id}/attempts"
    assert client.post(url).status_code == 202
    first, again = hook_receiver.wait_for("ping", count=2)
    assert again.headers["x-github-delivery"] == first.headers["x-github-delivery"]
    assert again.body == first.body and again.headers["x-hub-signature-256"] == sign(SECRET, again.body)
    assert [s.redelivery for s in repo.get_hook_deliveries(hook.id)] == [True, False]
    assert client.post(f"/repos/owner/app/hooks/{hook.id}/deliveries/999/attempts").status_code == 404


def test_hooks_api_lists_updates_pings_and_deletes(forge_kit: ForgeKit, hook_receiver: HookReceiver) -> None:
    _account, gh = _owner(forge_kit)
    repo = gh.get_repo("owner/app")
    hook = repo.create_hook("web", {"url": hook_receiver.url, "content_type": "json"}, ["push"])
    assert [h.id for h in repo.get_hooks()] == [hook.id]
    hook.edit("web", {"url": hook_receiver.url, "content_type": "json"}, events=["status"])
    assert repo.get_hook(hook.id).events == ["status"]
    hook.ping()
    hook_receiver.wait_for("ping", count=2)
    forge_kit.settled_deliveries("owner/app", 2)
    hook.delete()
    assert list(repo.get_hooks()) == []
    # A second hook on the same repository: its delivery is sent after any the deleted hook would get.
    forge_kit.admin.add_webhook("owner/app", f"http://127.0.0.1:{_closed_port()}/", events_=["status"])
    repo.get_commit("main").create_status("success", context="after-delete")
    records = forge_kit.settled_deliveries("owner/app", 2)  # the new hook's ping, then the status
    assert [r.event for r in records] == ["ping", "status"]
    assert hook_receiver.events("status") == []
