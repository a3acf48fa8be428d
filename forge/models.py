"""The forge's metadata tables (its own SQLite file, separate from the line's state database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


class ForgeBase(DeclarativeBase):
    """Every table of the forge's database."""


class User(ForgeBase):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(39), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    site_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Token(ForgeBase):
    """Only a SHA-256 of each token is kept, so the database never holds a usable secret."""

    __tablename__ = "tokens"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Repo(ForgeBase):
    __tablename__ = "repos"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    private: Mapped[bool] = mapped_column(default=True)
    default_branch: Mapped[str] = mapped_column(String(255), default="main")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    pushed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Collaborator(ForgeBase):
    __tablename__ = "collaborators"
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(16))


class Protection(ForgeBase):
    __tablename__ = "protections"
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"), primary_key=True)
    branch: Mapped[str] = mapped_column(String(255), primary_key=True)
    required_approvals: Mapped[int] = mapped_column(default=0)
    required_contexts: Mapped[list[str]] = mapped_column(JSON, default=list)


class Issue(ForgeBase):
    """Issues and pull requests share one number sequence per repository, as on GitHub."""

    __tablename__ = "issues"
    __table_args__ = (UniqueConstraint("repo_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(8), default="open")
    is_pull: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class Pull(ForgeBase):
    __tablename__ = "pulls"
    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id"), unique=True)
    head_ref: Mapped[str] = mapped_column(String(255))
    head_sha: Mapped[str] = mapped_column(String(40))
    base_ref: Mapped[str] = mapped_column(String(255))
    draft: Mapped[bool] = mapped_column(default=False)
    merged_at: Mapped[datetime | None] = mapped_column(default=None)
    merge_commit_sha: Mapped[str | None] = mapped_column(String(40), default=None)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class Label(ForgeBase):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("repo_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    name: Mapped[str] = mapped_column(String(100))
    color: Mapped[str] = mapped_column(String(6), default="ededed")
    description: Mapped[str | None] = mapped_column(Text, default=None)


class IssueLabel(ForgeBase):
    __tablename__ = "issue_labels"
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id"), primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id"), primary_key=True)


class Comment(ForgeBase):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(ForgeBase):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    pull_id: Mapped[int] = mapped_column(ForeignKey("pulls.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text, default="")
    commit_id: Mapped[str] = mapped_column(String(40))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Status(ForgeBase):
    __tablename__ = "statuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    sha: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(16))
    context: Mapped[str] = mapped_column(String(255), default="default")
    description: Mapped[str | None] = mapped_column(Text, default=None)
    target_url: Mapped[str | None] = mapped_column(Text, default=None)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckRun(ForgeBase):
    __tablename__ = "check_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    head_sha: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    conclusion: Mapped[str | None] = mapped_column(String(32), default=None)
    external_id: Mapped[str | None] = mapped_column(Text, default=None)
    details_url: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    output: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Deployment(ForgeBase):
    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    sha: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(255))
    task: Mapped[str] = mapped_column(String(64), default="deploy")
    environment: Mapped[str] = mapped_column(String(255), default="production")
    payload: Mapped[Any] = mapped_column(JSON, default=dict)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    transient_environment: Mapped[bool] = mapped_column(default=False)
    production_environment: Mapped[bool] = mapped_column(default=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentStatus(ForgeBase):
    __tablename__ = "deployment_statuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    state: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    environment: Mapped[str] = mapped_column(String(255))
    target_url: Mapped[str] = mapped_column(Text, default="")
    log_url: Mapped[str] = mapped_column(Text, default="")
    environment_url: Mapped[str] = mapped_column(Text, default="")
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hook(ForgeBase):
    __tablename__ = "hooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text, default=None)
    content_type: Mapped[str] = mapped_column(String(8), default="json")
    insecure_ssl: Mapped[str] = mapped_column(String(1), default="0")
    events: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["push"])
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_code: Mapped[int | None] = mapped_column(default=None)
    last_status: Mapped[str] = mapped_column(String(16), default="unused")
    last_message: Mapped[str | None] = mapped_column(Text, default=None)


class Delivery(ForgeBase):
    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    hook_id: Mapped[int] = mapped_column(ForeignKey("hooks.id"), index=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"))
    guid: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64), default=None)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    redelivery: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(64), default="pending")
    status_code: Mapped[int] = mapped_column(default=0)
    duration: Mapped[float] = mapped_column(default=0.0)
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
    request_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    response_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    response_body: Mapped[str] = mapped_column(Text, default="")


class App(ForgeBase):
    """A GitHub App: it authenticates with JWTs signed by its private key; `bot_user_id` is its bot."""

    __tablename__ = "apps"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    bot_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Installation(ForgeBase):
    __tablename__ = "installations"
    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InstallationRepo(ForgeBase):
    __tablename__ = "installation_repos"
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id"), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id"), primary_key=True)


class AppToken(ForgeBase):
    """An installation access token (digest only); it acts as the app's bot until it expires."""

    __tablename__ = "app_tokens"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column()
