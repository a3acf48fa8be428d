"""The forge's administration in Python: users and tokens, repositories, collaborators, protection, hooks.

Used by `intentops forge ...`, by `intentops up`, and by tests, on the same `Forge` a server runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from forge import apps, events
from forge.core import Forge
from forge.errors import Invalid, NotFound
from forge.models import Delivery, Hook, Repo, User
from forge.render import Renderer


@dataclass(frozen=True)
class Account:
    login: str
    token: str


@dataclass(frozen=True)
class RepoInfo:
    full_name: str
    default_branch: str
    clone_url: str
    head_sha: str


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    hook_id: int
    guid: str
    event: str
    action: str | None
    status_code: int
    status: str
    redelivery: bool


def split_full_name(full_name: str) -> tuple[str, str]:
    owner, sep, name = full_name.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise Invalid.field("Repository", "full_name", message=f"expected OWNER/NAME, got {full_name!r}")
    return owner, name


class ForgeAdmin:
    """Administrative operations; none of them needs a token, so only trusted code may hold one."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def create_user(self, login: str, *, admin: bool = False, email: str | None = None) -> Account:
        """A new user and a first token (printed once by the CLI; only its digest is stored)."""
        self.forge.create_user(login, site_admin=admin, email=email)
        return Account(login, self.forge.issue_token(login))

    def issue_token(self, login: str, *, note: str = "") -> str:
        return self.forge.issue_token(login, note=note)

    def create_repo(
        self,
        full_name: str,
        *,
        private: bool = True,
        description: str | None = None,
        files: dict[str, bytes] | None = None,
        default_branch: str = "main",
    ) -> RepoInfo:
        owner, name = split_full_name(full_name)
        self.forge.create_repo(
            owner, name, private=private, description=description, files=files, default_branch=default_branch
        )
        return self.repo_info(full_name)

    def repo_info(self, full_name: str) -> RepoInfo:
        owner, name = split_full_name(full_name)
        with self.forge.db.session() as session:
            repo = self.forge.find_repo(session, owner, name)
            if repo is None:
                raise NotFound(f"no repository {full_name}")
            head = self.forge.bare(session, repo).branch_sha(repo.default_branch) or ""
            return RepoInfo(
                f"{owner}/{repo.name}",
                repo.default_branch,
                f"{self.forge.base_url}/{owner}/{repo.name}.git",
                head,
            )

    def clone_url(self, full_name: str, account: Account | None = None) -> str:
        """The HTTP clone URL, with `account`'s login and token in it when given (as git accepts)."""
        url = self.repo_info(full_name).clone_url
        if account is None:
            return url
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{quote(account.login, safe='')}:{quote(account.token, safe='')}@{rest}"

    def add_collaborator(self, full_name: str, login: str, permission: str = "write") -> None:
        owner, name = split_full_name(full_name)
        self.forge.set_collaborator(owner, name, login, permission)

    def protect_branch(
        self,
        full_name: str,
        branch: str = "main",
        *,
        required_approvals: int = 1,
        required_contexts: Iterable[str] = (),
    ) -> None:
        owner, name = split_full_name(full_name)
        self.forge.protect_branch(
            owner,
            name,
            branch,
            required_approvals=required_approvals,
            required_contexts=list(required_contexts),
        )

    def add_webhook(
        self,
        full_name: str,
        url: str,
        *,
        secret: str | None = None,
        events_: Iterable[str] = ("*",),
        content_type: str = "json",
    ) -> int:
        """A repository webhook; GitHub's `ping` is delivered to it at once, in the background."""
        owner, name = split_full_name(full_name)
        with self.forge.db.session() as session:
            repo = self._repo(session, owner, name)
            hook = Hook(
                repo_id=repo.id, url=url, secret=secret, events=list(events_), content_type=content_type
            )
            session.add(hook)
            session.flush()
            renderer = Renderer(self.forge, session)
            owner_user = session.get(User, repo.owner_id)
            assert owner_user is not None
            events.ping(renderer, repo, hook, owner_user)
            hook_id = hook.id
        renderer.flush_events()
        return hook_id

    def finish_deliveries(self) -> None:
        """Wait for the queued deliveries to get an outcome (each within the forge's hook timeout) and stop
        sending: for a short-lived process, such as one admin command, before it reads the delivery log."""
        self.forge.hooks.close(timeout_s=self.forge.hooks.timeout_s + 1.0)

    def register_app(self, owner: str, slug: str, public_key_pem: str, *, name: str | None = None) -> int:
        """A GitHub App owned by `owner` that signs its JWTs with the key matching `public_key_pem`."""
        return apps.register_app(self.forge, owner, slug, public_key_pem, name=name)

    def install_app(self, app_id: int, full_name: str) -> int:
        """Install an app on a repository; returns the installation id its tokens are asked for."""
        return apps.install_app(self.forge, app_id, full_name)

    def deliveries(self, full_name: str) -> list[DeliveryRecord]:
        owner, name = split_full_name(full_name)
        with self.forge.db.session() as session:
            repo = self._repo(session, owner, name)
            rows = session.scalars(select(Delivery).where(Delivery.repo_id == repo.id).order_by(Delivery.id))
            return [
                DeliveryRecord(
                    d.id, d.hook_id, d.guid, d.event, d.action, d.status_code, d.status, d.redelivery
                )
                for d in rows
            ]

    def _repo(self, session: Session, owner: str, name: str) -> Repo:
        repo = self.forge.find_repo(session, owner, name)
        if repo is None:
            raise NotFound(f"no repository {owner}/{name}")
        return repo
