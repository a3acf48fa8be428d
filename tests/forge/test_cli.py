"""`intentops forge ...` on a data directory, and `forge serve` as a real process serving git and REST."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli.main import build_app
from tests.conftest import ROOT
from tests.fixtures.forge import GIT_ENV, HookReceiver

runner = CliRunner()
# The forge's own commands on a bare Typer app: the same code as `intentops forge serve`, without importing
# every other command module in the child process.
SERVE_ONLY = (
    "import typer; from bot.cli import forge_cmd; app = typer.Typer(); forge_cmd.register(app); app()"
)


def _run(data: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_app(), ["forge", *args, "--data-dir", str(data)])
    return result.exit_code, result.stdout, result.stderr


def test_admin_commands_create_and_refuse_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "forge"
    monkeypatch.setenv("INTENTOPS_FORGE_HOST", "127.0.0.1")
    monkeypatch.setenv("INTENTOPS_FORGE_PORT", "3999")
    code, token, note = _run(data, "user", "add", "alice", "--admin")
    assert code == 0 and token.strip().startswith("ghp_") and "shown once" in note
    assert _run(data, "user", "add", "bob")[0] == 0
    code, url, note = _run(data, "repo", "create", "alice/intents")
    assert code == 0 and url.strip() == "http://127.0.0.1:3999/alice/intents.git"
    assert "no server is serving this data directory now" in note
    assert _run(data, "repo", "collaborator", "alice/intents", "bob", "--permission", "write")[0] == 0
    assert _run(data, "repo", "protect", "alice/intents", "--approvals", "1", "--context", "ci")[0] == 0

    code, _, error = _run(data, "repo", "create", "alice/intents")
    assert (code, error.strip()) == (1, "error: Validation Failed; name already exists on this account")
    code, _, error = _run(data, "repo", "create", "carol/x")
    assert (code, error.strip()) == (1, "error: no user carol")
    code, _, error = _run(data, "repo", "collaborator", "alice/intents", "bob", "--permission", "owner")
    assert code == 1 and "unknown permission 'owner'" in error
    code, _, error = _run(data, "user", "add", "no spaces")
    assert code == 1 and "not a valid login" in error
    assert "Traceback" not in error


def test_serve_runs_the_forge_for_git_and_rest(tmp_path: Path) -> None:
    data = tmp_path / "forge"
    token = _run(data, "user", "add", "alice")[1].strip()
    _run(data, "repo", "create", "alice/app")
    env = {**os.environ, "INTENTOPS_FORGE_DIR": str(data)}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_ONLY, "forge", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"serving (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = match.group(1)
        user = httpx.get(f"{url}/api/v3/user", headers={"Authorization": f"token {token}"}).json()
        assert user["login"] == "alice"
        assert _run(data, "repo", "create", "alice/other")[1:] == (f"{url}/alice/other.git\n", "")
        clone = subprocess.run(
            [
                "git",
                "clone",
                "--quiet",
                url.replace("http://", f"http://alice:{token}@") + "/alice/app.git",
                str(tmp_path / "app"),
            ],
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **GIT_ENV},
            capture_output=True,
            text=True,
        )
        assert clone.returncode == 0, clone.stderr
        assert (tmp_path / "app" / "README.md").read_text() == "# app\n"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


@contextmanager
def silent_receiver() -> Iterator[str]:
    """A webhook URL whose server accepts connections and reads requests but never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


def test_hook_returns_promptly_when_the_receiver_never_answers(
    tmp_path: Path, hook_receiver: HookReceiver
) -> None:
    data = tmp_path / "forge"
    _run(data, "user", "add", "alice")
    _run(data, "repo", "create", "alice/app")
    code, _, note = _run(data, "repo", "hook", "alice/app", hook_receiver.url)
    assert code == 0 and note.strip() == "ping: 200 OK"
    assert len(hook_receiver.wait_for("ping")) == 1
    with silent_receiver() as url:
        started = time.monotonic()
        code, printed, note = _run(data, "repo", "hook", "alice/app", url)
        elapsed = time.monotonic() - started
    assert code == 0 and printed.strip() == f"hook 2 on alice/app -> {url}"
    assert elapsed < 4, f"took {elapsed:.1f}s"
    assert "ping: no answer within" in note
