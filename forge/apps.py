"""GitHub Apps: registration and installation (admin), JWT authentication, installation tokens.

An installation on a repository makes the app's bot (`<slug>[bot]`) a collaborator with write access,
which is what its installation tokens act as.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from forge.core import Forge, token_digest
from forge.errors import Invalid, NotFound, Unauthorized
from forge.models import App, AppToken, Collaborator, Installation, InstallationRepo, User, utcnow

TOKEN_LIFETIME = timedelta(hours=1)
INSTALLATION_TOKEN_PREFIX = "ghs_"
JWT_LEEWAY_S = 60
MSG_BAD_JWT = "A JSON web token could not be decoded"
MSG_JWT_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the "
    "assertion expires"
)


def register_app(forge: Forge, owner: str, slug: str, public_key_pem: str, *, name: str | None = None) -> int:
    """A new app owned by `owner`, verified with `public_key_pem`; returns its id."""
    with forge.db.session() as session:
        owner_user = forge.user_by_login(session, owner, message=f"no user {owner}")
        if session.scalar(select(App).where(App.slug == slug)) is not None:
            raise Invalid.field("Integration", "slug", "already_exists", f"app {slug} already exists")
        bot = User(login=f"{slug}[bot]", email=f"{slug}[bot]@users.noreply.forge")
        session.add(bot)
        session.flush()
        app = App(
            slug=slug,
            name=name or slug,
            owner_id=owner_user.id,
            bot_user_id=bot.id,
            public_key=public_key_pem,
        )
        session.add(app)
        session.flush()
        return app.id


def install_app(forge: Forge, app_id: int, full_name: str) -> int:
    """Install the app on a repository (one installation per app and account); returns its id."""
    owner, _, name = full_name.partition("/")
    with forge.db.session() as session:
        app = session.get(App, app_id)
        repo = forge.find_repo(session, owner, name)
        if app is None or repo is None:
            raise NotFound(f"no app {app_id} or no repository {full_name}")
        installation = session.scalar(
            select(Installation).where(
                Installation.app_id == app.id, Installation.account_id == repo.owner_id
            )
        )
        if installation is None:
            installation = Installation(app_id=app.id, account_id=repo.owner_id)
            session.add(installation)
            session.flush()
        if session.get(InstallationRepo, (installation.id, repo.id)) is None:
            session.add(InstallationRepo(installation_id=installation.id, repo_id=repo.id))
        if session.get(Collaborator, (repo.id, app.bot_user_id)) is None:
            session.add(Collaborator(repo_id=repo.id, user_id=app.bot_user_id, permission="write"))
        return installation.id


def app_from_jwt(session: Session, header: str | None) -> App:
    """The app whose private key signed the bearer JWT; GitHub's 401 otherwise."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        raise Unauthorized(MSG_BAD_JWT)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        app = session.get(App, int(claims["iss"]))
        if app is None:
            raise Unauthorized(MSG_BAD_JWT)
        jwt.decode(
            token,
            app.public_key,
            algorithms=["RS256"],
            leeway=JWT_LEEWAY_S,
            options={"require": ["exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(MSG_JWT_EXPIRED) from None
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        raise Unauthorized(MSG_BAD_JWT) from None
    return app


def issue_installation_token(session: Session, installation: Installation, app: App) -> tuple[str, AppToken]:
    token = INSTALLATION_TOKEN_PREFIX + secrets.token_urlsafe(27)[:36]
    row = AppToken(
        digest=token_digest(token),
        installation_id=installation.id,
        user_id=app.bot_user_id,
        expires_at=utcnow() + TOKEN_LIFETIME,
    )
    session.add(row)
    return token, row
