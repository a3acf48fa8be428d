"""The sandbox's warm start: run by a venv's interpreter (`python -I zygote.py SOCKET CALLER_UID`), started
the way a cold run starts (its own network namespace with only a loopback, the unprivileged user, no
supplementary groups), it imports pytest and the libraries generated services test with once, then forks
one child per test run.

Each child takes its own session, the run's resource limits, environment, folder and pipes, and runs
pytest as `python -m pytest` would. The zygote answers only the line's user (SO_PEERCRED), and cannot be
traced or read through /proc by the runs it forks, which share its user (it is not dumpable). Runs share
the zygote's loopback, as they share its user. It exits when the process that started it goes away (its
stdin closes).

Stand-alone: it runs in the service's venv, where only the standard library and what the venv has exist.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
from typing import Any

PRELOAD = (
    "pytest",
    "_pytest.assertion.rewrite",
    "_pytest.unraisableexception",
    "anyio.pytest_plugin",
    "fastapi",
    "fastapi.testclient",
    "httpx",
    "pydantic",
    "sqlite3",
)
"""What every generated service's tests import; a venv without one of them just imports less."""
PR_SET_DUMPABLE = 4
MAX_REQUEST = 1 << 20
MAX_FDS = 8
CHANNEL_ENV = "INTENTOPS_SANDBOX_CHANNEL"
READY = b"ready\n"
FAILED_TO_START = 70
"""The child's exit status when it could not set itself up (the reason is on its output)."""


def _dumpable(value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def preload() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            continue  # the run imports what it needs itself; this only saves time
    gc.collect()
    gc.freeze()  # the children share these pages; a collection in one must not copy them all


def main(path: str, *, caller: int) -> None:
    _dumpable(0)
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, socket.socket] = {}
    os.write(sys.stdout.fileno(), READY)
    while True:
        try:
            ready, _, _ = select.select([listener, wake_read, sys.stdin], [], [])
        except InterruptedError:
            continue
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            _remove(path)  # whoever started us is gone
            return
        if wake_read in ready:
            os.read(wake_read, 4096)
        if listener in ready:
            connection, _ = listener.accept()
            closing = (listener, wake_read, wake_write, *children.values())
            _start(connection, children, caller=caller, closing=closing)
        _reap(children)


def _remove(path: str) -> None:
    """The socket and its folder (ours: the line made it for us alone)."""
    with contextlib.suppress(OSError):
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


def _start(
    connection: socket.socket,
    children: dict[int, socket.socket],
    *,
    caller: int,
    closing: tuple[Any, ...],
) -> None:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    if uid != caller:
        connection.close()  # only the line may ask for a run; a run asking for another is refused
        return
    message, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, MAX_FDS)
    request = json.loads(message)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        _child(request, fds, [connection, *closing])
    for fd in fds:
        os.close(fd)
    connection.sendall(str(pid).encode())
    children[pid] = connection


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is not None:
            # The caller may have stopped waiting (it timed out and killed the run): nobody to tell.
            with contextlib.suppress(OSError):
                connection.sendall(str(os.waitstatus_to_exitcode(status)).encode())
            connection.close()


def _child(request: dict[str, Any], fds: list[int], closing: list[Any]) -> None:
    try:
        _prepare(request, fds, closing)
        import pytest

        code = pytest.main(request["args"])
    except BaseException as exc:  # the child must never return into the zygote's loop
        os.write(2, f"the sandbox could not start the run: {type(exc).__name__}: {exc}\n".encode())
        os._exit(FAILED_TO_START)
    sys.exit(int(code))


def _prepare(request: dict[str, Any], fds: list[int], closing: list[Any]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for item in closing:
        item.close() if hasattr(item, "close") else os.close(item)
    os.setsid()
    _dumpable(1)  # a run is an ordinary process of its user, as a cold run is; the zygote stays closed
    output, channel, token = fds
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    for fd in (devnull, output):
        os.close(fd)
    for name, (soft, hard) in request["limits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    for fd in (channel, token):
        os.set_inheritable(fd, True)
    os.environ.clear()  # the run's environment, and nothing of the zygote's
    os.environ.update(request["env"], **{CHANNEL_ENV: f"{channel}:{token}"})
    os.chdir(request["cwd"])
    sys.dont_write_bytecode = True
    sys.path[:0] = [request["cwd"], *request["path"]]
    sys.argv = [sys.executable, *request["args"]]


if __name__ == "__main__":
    main(sys.argv[1], caller=int(sys.argv[2]))
