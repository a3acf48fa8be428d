"""The forge's domain: users and tokens, repositories on disk, permissions, branch protection.

`Forge` is what the HTTP layer and the Python admin API share; it owns the database, the bare
repositories under `data_dir/repos/` and the webhook dispatcher.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from enum import IntEnum
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forge.db import ForgeDB
from forge.errors import Forbidden, Invalid, NotFound
from forge.git import BareRepo, Edit, Person
from forge.models import (
    AppToken,
    CheckRun,
    Collaborator,
    Comment,
    Delivery,
    Deployment,
    DeploymentStatus,
    Hook,
    Issue,
    IssueLabel,
    Label,
    Protection,
    Pull,
    Repo,
    Review,
    Status,
    Token,
    User,
    utcnow,
)
from forge.webhooks import Dispatcher

LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
REPO_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
TOKEN_PREFIX = "ghp_"
INITIAL_README = "# {name}\n"
INITIAL_MESSAGE = "Initial commit"


class Perm(IntEnum):
    """Repository roles in GitHub's order; comparisons mean "at least"."""

    NONE = 0
    READ = 1
    TRIAGE = 2
    WRITE = 3
    MAINTAIN = 4
    ADMIN = 5

    @classmethod
    def parse(cls, name: str) -> Perm:
        aliases = {"pull": "read", "push": "write"}
        try:
            return cls[aliases.get(name, name).upper()]
        except KeyError:
            raise Invalid.field(
                "Collaborator", "permission", message=f"unknown permission {name!r}"
            ) from None

    @property
    def legacy(self) -> str:
        """What the collaborator-permission API reports (GitHub folds triage and maintain)."""
        if self >= Perm.ADMIN:
            return "admin"
        if self >= Perm.WRITE:
            return "write"
        return "read" if self >= Perm.READ else "none"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(27)[:36]


class Forge:
    """One forge instance: a data directory with `forge.db` and `repos/<owner>/<name>.git`."""

    def __init__(
        self, data_dir: Path, *, base_url: str = "http://127.0.0.1:3000", hook_timeout_s: float = 10.0
    ):
        self.data_dir = data_dir
        self.repos_dir = data_dir / "repos"
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self.db = ForgeDB(data_dir / "forge.db")
        self.hooks = Dispatcher(self.db, timeout_s=hook_timeout_s)
        # One writer at a time for number sequences (issue numbers) and ref updates made by the API.
        self.write_lock = threading.RLock()
        self._repo_locks: dict[int, threading.Lock] = {}

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v3"

    def close(self) -> None:
        self.hooks.close()
        self.db.dispose()

    def repo_lock(self, repo_id: int) -> threading.Lock:
        with self.write_lock:
            return self._repo_locks.setdefault(repo_id, threading.Lock())

    # users and tokens

    def create_user(self, login: str, *, site_admin: bool = False, email: str | None = None) -> User:
        if not LOGIN_RE.match(login):
            raise Invalid.field("User", "login", message=f"{login!r} is not a valid login")
        with self.db.session() as session:
            if session.scalar(select(User).where(User.login == login)) is not None:
                raise Invalid.field("User", "login", "already_exists", f"user {login} already exists")
            user = User(login=login, site_admin=site_admin, email=email or f"{login}@users.noreply.forge")
            session.add(user)
        return user

    def issue_token(self, login: str, *, note: str = "") -> str:
        """A new token for `login`; only its digest is stored, so this is the one time it is seen."""
        token = new_token()
        with self.db.session() as session:
            user = self.user_by_login(session, login, message=f"no user {login}")
            session.add(Token(digest=token_digest(token), user_id=user.id, note=note))
        return token

    def authenticate(self, session: Session, token: str) -> User | None:
        row = session.get(Token, token_digest(token))
        if row is not None:
            return session.get(User, row.user_id)
        app_token = session.get(AppToken, token_digest(token))  # an app installation's token
        if app_token is None or app_token.expires_at <= utcnow():
            return None
        return session.get(User, app_token.user_id)

    @staticmethod
    def user_by_login(session: Session, login: str, *, message: str | None = None) -> User:
        user = session.scalar(select(User).where(User.login == login))
        if user is None:
            raise NotFound(message)
        return user

    # repositories

    def bare(self, session: Session, repo: Repo) -> BareRepo:
        owner = session.get(User, repo.owner_id)
        assert owner is not None
        return BareRepo(self.repos_dir / owner.login / f"{repo.name}.git")

    def find_repo(self, session: Session, owner: str, name: str) -> Repo | None:
        name = name.removesuffix(".git")
        return session.scalar(
            select(Repo).join(User, User.id == Repo.owner_id).where(User.login == owner, Repo.name == name)
        )

    def create_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = True,
        description: str | None = None,
        default_branch: str = "main",
        files: dict[str, bytes] | None = None,
    ) -> Repo:
        """A repository with a first commit on the default branch (README.md unless `files` is given)."""
        if not REPO_RE.match(name) or name in {".", ".."} or name.endswith(".git"):
            raise Invalid.field("Repository", "name", message=f"{name!r} is not a valid repository name")
        with self.write_lock, self.db.session() as session:
            user = self.user_by_login(session, owner, message=f"no user {owner}")
            if self.find_repo(session, owner, name) is not None:
                raise Invalid.field("Repository", "name", "custom", "name already exists on this account")
            repo = Repo(
                owner_id=user.id,
                name=name,
                private=private,
                description=description,
                default_branch=default_branch,
            )
            session.add(repo)
            session.flush()
            bare = self.bare(session, repo)
            bare.init(default_branch)
            who = Person(user.login, user.email or "")
            tree = bare.write_files(
                None, Edit(files or {"README.md": INITIAL_README.format(name=name).encode()})
            )
            sha = bare.commit_tree(tree, [], INITIAL_MESSAGE, who, who)
            bare.update_ref(f"refs/heads/{default_branch}", sha)
        return repo

    def bare_refs(self, full_name: str) -> dict[str, str]:
        """Every ref of a repository (admin and tests: what a request may or may not have moved)."""
        owner, _, name = full_name.partition("/")
        with self.db.session() as session:
            repo = self.find_repo(session, owner, name)
            if repo is None:
                raise NotFound(f"no repository {full_name}")
            return self.bare(session, repo).refs()

    def delete_repo_rows(self, session: Session, repo: Repo) -> None:
        """Every row that belongs to `repo`, children first (the bare repository is the caller's)."""
        issue_ids = select(Issue.id).where(Issue.repo_id == repo.id)
        pull_ids = select(Pull.id).where(Pull.issue_id.in_(issue_ids))
        deployment_ids = select(Deployment.id).where(Deployment.repo_id == repo.id)
        statements = [
            delete(Review).where(Review.pull_id.in_(pull_ids)),
            delete(Pull).where(Pull.issue_id.in_(issue_ids)),
            delete(Comment).where(Comment.issue_id.in_(issue_ids)),
            delete(IssueLabel).where(IssueLabel.issue_id.in_(issue_ids)),
            delete(Issue).where(Issue.repo_id == repo.id),
            delete(DeploymentStatus).where(DeploymentStatus.deployment_id.in_(deployment_ids)),
        ]
        statements += [delete(table).where(table.repo_id == repo.id) for table in REPO_TABLES]
        for statement in statements:
            session.execute(statement)
        session.delete(repo)

    def permission(self, session: Session, user: User | None, repo: Repo) -> Perm:
        if user is None:
            return Perm.NONE if repo.private else Perm.READ
        if user.site_admin or user.id == repo.owner_id:
            return Perm.ADMIN
        row = session.get(Collaborator, (repo.id, user.id))
        if row is not None:
            return Perm.parse(row.permission)
        return Perm.NONE if repo.private else Perm.READ

    def require(self, session: Session, user: User | None, owner: str, name: str, need: Perm) -> Repo:
        """The repository if `user` has at least `need`: 404 when they cannot see it, 403 when they can."""
        repo = self.find_repo(session, owner, name)
        if repo is None:
            raise NotFound()
        have = self.permission(session, user, repo)
        if have < Perm.READ:
            raise NotFound()
        if have < need:
            raise Forbidden(FORBIDDEN_MESSAGES.get(need, Forbidden.default_message))
        return repo

    def push_protected(self, session: Session, repo: Repo, user: User | None) -> list[str]:
        """Branches `user` may not push to directly: those requiring reviews, unless they are an admin."""
        if user is not None and self.permission(session, user, repo) >= Perm.ADMIN:
            return []
        rows = session.scalars(
            select(Protection.branch).where(Protection.repo_id == repo.id, Protection.required_approvals > 0)
        )
        return list(rows)

    def set_collaborator(self, owner: str, name: str, login: str, permission: str = "write") -> None:
        level = Perm.parse(permission)
        with self.db.session() as session:
            repo = self.find_repo(session, owner, name)
            if repo is None:
                raise NotFound(f"no repository {owner}/{name}")
            user = self.user_by_login(session, login, message=f"no user {login}")
            row = session.get(Collaborator, (repo.id, user.id))
            if row is None:
                session.add(Collaborator(repo_id=repo.id, user_id=user.id, permission=level.name.lower()))
            else:
                row.permission = level.name.lower()

    def protect_branch(
        self,
        owner: str,
        name: str,
        branch: str,
        *,
        required_approvals: int = 1,
        required_contexts: list[str] | None = None,
    ) -> None:
        with self.db.session() as session:
            repo = self.find_repo(session, owner, name)
            if repo is None:
                raise NotFound(f"no repository {owner}/{name}")
            row = session.get(Protection, (repo.id, branch))
            if row is None:
                row = Protection(repo_id=repo.id, branch=branch)
                session.add(row)
            row.required_approvals = required_approvals
            row.required_contexts = list(required_contexts or [])


FORBIDDEN_MESSAGES = {
    Perm.WRITE: "Resource not accessible by personal access token",
    Perm.ADMIN: "Must have admin rights to Repository.",
}

REPO_TABLES = (Label, Status, CheckRun, Deployment, Delivery, Hook, Protection, Collaborator)
