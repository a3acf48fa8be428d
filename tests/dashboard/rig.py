"""A dashboard served for real (uvicorn on 127.0.0.1, a free port) over a real state database, signing
users in against a real embedded forge where pull requests are opened and reviewed for real."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from github import Github

from bot.dashboard import DashboardContext, create_dashboard_app, forge_context
from bot.serving import proxy_options
from bot.settings import Settings
from bot.vcs.github import token_connection
from forge.admin import Account
from pipeline.governance.decision import Decision
from pipeline.ledger import IntentState, Ledger, Outcome, Stage
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.registry import RegistryStore
from pipeline.state import Database, default_sqlite_url
from tests.fixtures.forge import ForgeKit
from tests.fixtures.records import enter

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
REPO = "acme/intents"
SECRET = "dashboard-test-secret-0123456789-abcdef"


class AppServer:
    """Any ASGI app on a real socket, in a thread, believing forwarded headers as the bot does: only from
    the proxies `settings` names (none by default)."""

    def __init__(self, app: FastAPI, *, port: int = 0, settings: Settings | None = None) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it a header write and a body write wait ~40 ms (Nagle).
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            **proxy_options(settings or Settings()),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        self._socket.listen(64)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


@dataclass
class People:
    """The forge accounts every dashboard test uses, created once per forge."""

    owner: Account
    bot: Account
    approver: Account
    reader: Account
    outsider: Account
    requester: Account
    """Wrote the intents: may not sign off their own."""


def make_people(kit: ForgeKit) -> People:
    people = People(
        owner=kit.user("acme"),
        bot=kit.user("intentops-bot"),
        approver=kit.user("alice"),
        reader=kit.user("rita"),
        outsider=kit.user("oscar"),
        requester=kit.user("ivan"),
    )
    kit.repo(
        REPO,
        files={"README.md": b"# intents\n"},
        collaborators={"intentops-bot": "write", "alice": "write", "rita": "read", "ivan": "write"},
    )
    return people


@dataclass
class OpenedPull:
    intent_id: int
    number: int
    head_sha: str
    service: str


@dataclass
class Rig:
    kit: ForgeKit
    people: People
    db: Database
    ledger: Ledger
    registry: RegistryStore
    usage: UsageLedger
    server: AppServer
    context: DashboardContext
    settings: Settings
    _counter: int = field(default=0)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, *, address: str = "127.0.0.1") -> httpx.Client:
        """A browser; `address` (any of 127.0.0.0/8) is the client address the dashboard sees."""
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, transport=transport)

    def restart(self, *, clock: Callable[[], datetime] | None = None, **settings: Any) -> None:
        """The dashboard stopped and built again on the same database (what a bot restart does)."""
        port = self.server.port
        self.server.stop()
        if clock is not None:
            self.context = replace(self.context, clock=clock)
        self.settings = self.settings.model_copy(update=settings)
        dashboard = create_dashboard_app(self.context, self.settings)
        self.server = AppServer(dashboard, port=port, settings=self.settings).start()

    def sign_in(self, client: httpx.Client, account: Account) -> None:
        page = client.get("/signin")
        response = client.post(
            "/signin", data={"csrf_token": csrf_of(page.text), "token": account.token, "next": "/"}
        )
        assert response.status_code == 303, response.text

    def github(self, account: Account) -> Github:
        # Unpaced: PyGithub's default spacing of writes (a second each) is for github.com.
        return token_connection(account.token, self.kit.api_url).client()

    def receive(
        self,
        service: str,
        *,
        priority: str = "normal",
        state: IntentState | None = None,
        commit_sha: str = "",
        author: str = "ivan",
    ) -> int:
        record, _ = self.ledger.receive(
            repo=REPO,
            path=f"intents/{service}.yaml",
            service_name=service,
            content_hash=f"hash-{service}",
            priority=priority,
            author=author,
            commit_sha=commit_sha,
        )
        if state is not None:
            enter(self.ledger, record.id, state)
        return record.id

    def commit_intent(self, service: str, *, purpose: str = "") -> str:
        """What the requester does: commit `intents/<service>.yaml` to main; returns the commit."""
        repo = self.github(self.people.requester).get_repo(REPO)
        text = INTENT_TEXT.format(service=service, purpose=purpose or f"Greet the people of {service}.")
        result = repo.create_file(f"intents/{service}.yaml", f"Add {service}", text, branch="main")
        return str(result["commit"].sha)

    def open_pull(self, service: str, *, approvers: tuple[str, ...] = (), purpose: str = "") -> OpenedPull:
        """What the requester and the bot do before a sign-off: the intent on main, a branch with SPEC.md and
        code, a pull request, the ledger."""
        commit = self.commit_intent(service, purpose=purpose)
        repo = self.github(self.people.bot).get_repo(REPO)
        branch = f"intentops/{service}"
        repo.create_git_ref(f"refs/heads/{branch}", repo.get_branch("main").commit.sha)
        spec = SPEC_TEXT.format(service=service)
        repo.create_file(f"services/{service}/SPEC.md", "spec", spec, branch=branch)
        repo.create_file(f"services/{service}/app.py", "code", "print('hello')\n", branch=branch)
        pull = repo.create_pull(base="main", head=branch, title=f"intentops: {service}", body="report")
        intent_id = self.receive(service, priority="high", commit_sha=commit)
        self.ledger.record(intent_id, Stage.GOVERNED, Outcome.SUCCEEDED, duration_ms=40)
        self.ledger.record_decision(intent_id, Decision.from_json(decision(service, approvers=approvers)))
        self.ledger.record(intent_id, Stage.PR, Outcome.SUCCEEDED, f"#{pull.number}", duration_ms=900)
        enter(
            self.ledger,
            intent_id,
            IntentState.AWAITING_SIGNOFF,
            waiting_for="1 more approval from someone with write permission",
            pr_number=pull.number,
            pr_url=pull.html_url,
            head_sha=pull.head.sha,
        )
        return OpenedPull(intent_id, pull.number, pull.head.sha, service)


INTENT_TEXT = """service_name: {service}
purpose: {purpose}
priority: high
tier: 1
"""

SPEC_TEXT = """# SPEC: {service}

## 1. Overview and scope

**Goal.** A service that greets people.

## 3. Functional requirements

- **FR-001** The service MUST serve GET /hello with a greeting.

## 4. Endpoints

### EP-001 `GET /hello`

Response: 200, the greeting.
"""


def decision(
    service: str, *, approvers: tuple[str, ...] = (), action: str = "requires_approval"
) -> dict[str, Any]:
    """A governance decision as `Decision.to_json()` writes it."""
    return {
        "version": 1,
        "service_name": service,
        "action": action,
        "summary": f"{action} by policy 'Core changes': Core assembly line changes need human oversight",
        "matched": [
            {
                "name": "Core changes",
                "action": action,
                "reason": "Core assembly line changes need human oversight",
                "approvals": 1,
                "approvers": list(approvers),
                "source": "policies/default.yaml:3",
            }
        ],
        "errors": [],
        "approvals_required": 1 if action == "requires_approval" else 0,
        "approvers": list(approvers),
        "alignment": {"score": 0.82, "method": "lexical", "rationale": "matched: greet, people", "model": ""},
        "policy_digest": "abc123",
    }


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def start_rig(kit: ForgeKit, people: People, tmp_path: Path, *, poll_seconds: float = 0.1) -> Rig:
    db = Database(default_sqlite_url(tmp_path))
    db.create_all()
    ledger = Ledger(db)
    registry = RegistryStore(db, ttl=timedelta(minutes=5))
    usage = UsageLedger(db, Budgets(per_intent_usd=2.0, monthly_usd=100.0))
    context = forge_context(
        db=db,
        ledger=ledger,
        registry=registry,
        api_base_url=kit.api_url,
        bot_login=people.bot.login,
        usage=usage,
    )
    settings = Settings.model_validate(
        {"INTENTOPS_DASHBOARD_POLL_SECONDS": poll_seconds, "INTENTOPS_DASHBOARD_SECRET": SECRET}
    )
    server = AppServer(create_dashboard_app(context, settings), settings=settings).start()
    return Rig(kit, people, db, ledger, registry, usage, server, context, settings)
