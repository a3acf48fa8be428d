"""The configuration file says what the environment variables say, one table documents both (the README's
copy is the generated one), and every mistake in the file is reported at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import ConfigFileError, describe_settings_error, settings_table, undocumented
from bot.settings import Settings
from tests.packaging.conftest import ROOT

ENVIRONMENT = {
    "INTENTOPS_WORKER_THREADS": "4",
    "INTENTOPS_MERGE_ON_SIGNOFF": "false",
    "INTENTOPS_MODEL": "claude-opus-4-1",
    "INTENTOPS_WEBHOOK_SECRET": "from-somewhere-safe",
    "INTENTOPS_TRUSTED_PROXIES": "10.0.0.5,10.1.0.0/16",
    "INTENTOPS_STAGES": "spec-verifier=builtin",
    "DATABASE_URL": "postgresql+psycopg://bot@db/intentops",
    "INTENTOPS_LOG_FORMAT": "json",
}
FILE = """\
# the same settings as ENVIRONMENT
worker_threads = 4
merge_on_signoff = false
model = "claude-opus-4-1"
webhook_secret = "from-somewhere-safe"
trusted_proxies = ["10.0.0.5", "10.1.0.0/16"]
stages = {"spec-verifier" = "builtin"}
database_url = "postgresql+psycopg://bot@db/intentops"
log_format = "json"
"""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*ENVIRONMENT, "INTENTOPS_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _with_file(env: pytest.MonkeyPatch, tmp_path: Path, text: str) -> Path:
    path = tmp_path / "intentops.toml"
    path.write_text(text, encoding="utf-8")
    env.setenv("INTENTOPS_CONFIG", str(path))
    return path


def _problems(path_env: pytest.MonkeyPatch) -> list[str]:
    try:
        Settings()
    except ValidationError as exc:
        return describe_settings_error(exc)
    except ConfigFileError as exc:
        return [str(exc)]
    raise AssertionError("the settings were accepted")


def test_the_file_says_what_the_variables_say(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in ENVIRONMENT.items():
        clean_env.setenv(name, value)
    from_env = Settings()
    for name in ENVIRONMENT:
        clean_env.delenv(name)
    _with_file(clean_env, tmp_path, FILE)
    from_file = Settings()
    assert from_file.model_dump() == from_env.model_dump()
    assert from_file.worker_threads == 4 and from_file.stages == {"spec-verifier": "builtin"}
    clean_env.setenv("INTENTOPS_WORKER_THREADS", "7")
    assert Settings().worker_threads == 7, "a variable that is set wins over the file"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "worker_threads = 2\nmodle = 'x'\n",
            "intentops.toml:2: unknown setting 'modle'; did you mean 'model'?",
        ),
        (
            "\n\nworker_threads = -1\n",
            "intentops.toml:3: worker_threads: Input should be greater than or equal to 0",
        ),
        ("log_format = 'xml'\n", "intentops.toml:1: log_format: Input should be 'text' or 'json'"),
        ("worker_threads = = 4\n", "intentops.toml:1:18: Invalid value"),
        ("[bot]\nworker_threads = 4\n", "intentops.toml:1: unknown setting 'bot'"),
        ("model = {name = 'x'}\n", "intentops.toml:1: 'model' is a table"),
    ],
)
def test_mistakes_are_named_at_their_line(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, text: str, expected: str
) -> None:
    _with_file(clean_env, tmp_path, text)
    (problem,) = _problems(clean_env)
    assert problem.startswith(f"{tmp_path}/{expected}")


def test_the_apps_private_key_is_read_from_its_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pem = tmp_path / "app.pem"
    pem.write_text("-----BEGIN RSA PRIVATE KEY-----\n...\n", encoding="utf-8")
    _with_file(clean_env, tmp_path, f"github_app_id = 7\ngithub_private_key_path = '{pem}'\n")
    key = Settings().github_private_key
    assert key is not None and key.get_secret_value().startswith("-----BEGIN RSA PRIVATE KEY-----")
    _with_file(clean_env, tmp_path, f"github_private_key_path = '{tmp_path / 'missing.pem'}'\n")
    (problem,) = _problems(clean_env)
    assert (
        "GITHUB_PRIVATE_KEY_PATH: cannot read the App's private key" in problem and "missing.pem" in problem
    )


def test_the_readme_table_is_the_generated_one() -> None:
    assert undocumented(Settings) == [], "document each setting with a docstring in bot/settings.py"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
    copied = readme[readme.index(start) + len(start) : readme.index(end)]
    assert copied == settings_table(), "regenerate README's table with `intentops config table`"
