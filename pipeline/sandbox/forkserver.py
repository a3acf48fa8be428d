"""Warm sandboxes: one zygote per venv (`pipeline/sandbox/zygote.py`), prepared once and reused by every
test run of services with the same dependencies. A run forks from it instead of starting an interpreter
and importing pytest, FastAPI and their kin again: the same limits, user and kind of network (only a
loopback), a fraction of the CPU. The zygote is started as a cold run is (`ProcessSandbox` gives the
command); when it cannot start, the sandbox starts each run cold, as before.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.sandbox import zygote

START_TIMEOUT_S = 60.0
ZYGOTE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",  # fixed when an interpreter starts: the runs inherit the zygote's
}


class ForkServerError(RuntimeError):
    """The zygote could not start or answer; the caller runs cold instead."""


@dataclass
class Spawned:
    """One run forked from the zygote: its pid (and process group), and the connection its exit comes on."""

    pid: int
    _connection: socket.socket

    def wait(self, timeout: float | None) -> int | None:
        """The run's exit code (negative: killed by that signal); None when `timeout` passed first."""
        self._connection.settimeout(timeout)
        try:
            answer = self._connection.recv(64)
        except TimeoutError:
            return None
        if not answer:
            raise ForkServerError("the sandbox's zygote went away during a run")
        self._connection.close()
        return int(answer)

    def kill(self) -> None:
        try:
            os.killpg(self.pid, 9)
        except ProcessLookupError:
            return


class ForkServer:
    """A zygote for one venv's interpreter, started on first use."""

    def __init__(self, command: list[str], *, user: tuple[int, int] | None) -> None:
        """`command`: how to start an interpreter of the venv in the run's namespace as the run's user
        (the zygote's path and arguments are added); `user`: (uid, gid) it runs as, None: ours."""
        self._folder = Path(tempfile.mkdtemp(prefix="intentops-zygote-"))  # 0700: ours (and the zygote's)
        if user is not None:
            os.chown(self._folder, *user)
        self.socket_path = self._folder / "zygote.sock"
        self._process = subprocess.Popen(
            [*command, "-I", zygote.__file__, str(self.socket_path), str(os.geteuid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ZYGOTE_ENV,
            cwd=self._folder,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # "ready" once it imported everything and listens
        if line.strip() != b"ready":
            self.stop()
            raise ForkServerError("the sandbox's zygote did not start")

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def spawn(self, request: dict[str, Any], *, fds: tuple[int, int, int]) -> Spawned:
        """Fork one run. `fds`: its output's write end, the channel's write end and the token's read end."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect(str(self.socket_path))
            socket.send_fds(connection, [json.dumps(request).encode()], list(fds))
            answer = connection.recv(64)
        except OSError as exc:
            connection.close()
            raise ForkServerError(f"the sandbox's zygote did not answer: {exc}") from None
        if not answer:
            connection.close()
            raise ForkServerError("the sandbox's zygote refused the run")
        return Spawned(int(answer), connection)

    def stop(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        shutil.rmtree(self._folder, ignore_errors=True)


ServerKey = tuple[str, ...]
"""The command a zygote is started with: one zygote per venv, user and isolation."""
_servers: dict[ServerKey, ForkServer] = {}
_servers_lock = threading.Lock()
_broken: dict[ServerKey, float] = {}
RETRY_BROKEN_S = 300.0


def server_for(command: list[str], *, user: tuple[int, int] | None) -> ForkServer | None:
    """The running zygote started with `command`, started when there is none; None when it cannot start
    (then the sandbox runs cold, and tries the zygote again only after a while)."""
    key = tuple(command)
    with _servers_lock:
        server = _servers.get(key)
        if server is not None and server.alive:
            return server
        if server is not None:
            server.stop()  # it died: its folder goes with it
        if time.monotonic() < _broken.get(key, 0.0):
            return None
        try:
            server = _servers[key] = ForkServer(command, user=user)
        except (OSError, ForkServerError):
            _broken[key] = time.monotonic() + RETRY_BROKEN_S
            _servers.pop(key, None)
            return None
        return server
