"""Dashboard sign-ins kept in the state database, so a restart or a second bot process keeps them.

A row holds what acting as the user needs and nothing more: the login, the CSRF token, and the user's forge
token encrypted (Fernet) with a key derived from INTENTOPS_DASHBOARD_SECRET. The session id itself is only
in the user's cookie; the row is found by its SHA-256, so reading the database does not give a usable
cookie. A session ends when it has not been used for the idle time, at its absolute expiry, on sign-out,
or when the secret changes (its token can no longer be decrypted).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Double, String, Text, delete, or_
from sqlalchemy.orm import Mapped, Session, mapped_column

from pipeline.state import Base, Database

TOKEN_KEY_INFO = b"intentops dashboard: forge tokens at rest"
TOUCH_EVERY_SECONDS = 60.0
"""`last_seen_at` is written at most this often per session: a page view is not a database write."""


class DashboardSessionRow(Base):
    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(String(100))
    csrf_token: Mapped[str] = mapped_column(String(64))
    forge_token: Mapped[str] = mapped_column(Text)
    """Fernet ciphertext; never the token itself."""
    created_at: Mapped[float] = mapped_column(Double)
    last_seen_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)
    """The absolute expiry; the idle expiry is `last_seen_at` + the idle time."""


@dataclass(frozen=True)
class User:
    """The signed-in person. `token` acts on the forge as them; it never goes into a page or a log."""

    login: str
    token: str
    csrf: str

    def __repr__(self) -> str:
        return f"User(login={self.login!r})"


def token_cipher(secret: str) -> Fernet:
    """The cipher for forge tokens, its key derived from the dashboard secret (not the secret itself, which
    also signs cookies)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=TOKEN_KEY_INFO)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret.encode())))


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Opens, finds and ends sessions. Times are epoch seconds from `clock`."""

    def __init__(
        self,
        db: Database,
        *,
        secret: str,
        idle_seconds: float,
        lifetime_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._db = db
        self._cipher = token_cipher(secret)
        self._idle = idle_seconds
        self._lifetime = lifetime_seconds
        self._clock = clock

    def open(self, login: str, token: str) -> str:
        """A new session; returns its id, which goes into the cookie and nowhere else."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        row = DashboardSessionRow(
            id_hash=_hashed(session_id),
            login=login,
            csrf_token=secrets.token_urlsafe(32),
            forge_token=self._cipher.encrypt(token.encode()).decode(),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self._lifetime,
        )
        with self._db.session() as session:
            self._purge(session, now)
            session.add(row)
        return session_id

    def get(self, session_id: str) -> User | None:
        """The live session with this id, its last use noted; None (and the row gone) once it ended."""
        now = self._clock()
        with self._db.session() as session:
            row = session.get(DashboardSessionRow, _hashed(session_id))
            if row is None:
                return None
            token = self._decrypted(row.forge_token)
            if token is None or self._ended(row, now):
                session.delete(row)
                return None
            if now - row.last_seen_at >= TOUCH_EVERY_SECONDS:
                row.last_seen_at = now
            return User(login=row.login, token=token, csrf=row.csrf_token)

    def close(self, session_id: str) -> None:
        with self._db.session() as session:
            row = DashboardSessionRow.id_hash == _hashed(session_id)
            session.execute(delete(DashboardSessionRow).where(row))

    def _ended(self, row: DashboardSessionRow, now: float) -> bool:
        return now >= row.expires_at or now >= row.last_seen_at + self._idle

    def _decrypted(self, ciphertext: str) -> str | None:
        try:
            return self._cipher.decrypt(ciphertext.encode()).decode()
        except InvalidToken:  # written under another INTENTOPS_DASHBOARD_SECRET: that sign-in is over
            return None

    def _purge(self, session: Session, now: float) -> None:
        ended = or_(
            DashboardSessionRow.expires_at <= now,
            DashboardSessionRow.last_seen_at <= now - self._idle,
        )
        session.execute(delete(DashboardSessionRow).where(ended))
