"""The registry token: the configured one wins, else one is generated once per data directory."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from pipeline.registry import load_or_create_token


def test_a_generated_token_is_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create_token(tmp_path / "data")
    second = load_or_create_token(tmp_path / "data")

    assert first.get_secret_value() == second.get_secret_value()
    assert len(first.get_secret_value()) >= 32
    assert (tmp_path / "data" / "registry-token").stat().st_mode & 0o777 == 0o600


def test_the_configured_token_wins(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path, SecretStr("configured-token"))

    assert token.get_secret_value() == "configured-token"
    assert not (tmp_path / "registry-token").exists()
