"""The registry token: configured, or generated once and kept in the data directory (mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from pipeline.state.private import private_dir

TOKEN_FILE = "registry-token"


def load_or_create_token(data_dir: Path, configured: SecretStr | None = None) -> SecretStr:
    """The configured token wins; otherwise one random token per data directory, so the registry and the
    deployers that hand it to services agree without anyone choosing a password."""
    if configured is not None and configured.get_secret_value():
        return configured
    path = data_dir / TOKEN_FILE
    if path.is_file():
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            return SecretStr(existing)
    private_dir(data_dir)
    token = secrets.token_urlsafe(32)
    # O_EXCL: if two processes race, one wins and the other reads the winner's token.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return SecretStr(path.read_text(encoding="utf-8").strip())
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return SecretStr(token)
