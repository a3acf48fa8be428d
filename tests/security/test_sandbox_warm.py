"""Attacks on the warm sandbox's zygote from the code under test (which runs as the zygote's user):

- asking the zygote over its socket for a run of its own (with limits and an environment it chose):
  refused, only the line's user is answered;
- reading the zygote's memory or environment through /proc, or tracing it, to change later runs: it is
  not dumpable, so its user cannot.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.sandbox import ProcessSandbox
from tests.factory.conftest import sandbox_python  # noqa: F401 - the fixture
from tests.factory.test_sandbox import service_with_tests

ATTACKS = """
import ctypes
import os
import socket

import pytest


def zygote():
    pid = os.getppid()
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        argv = handle.read().split(b"\\0")
    assert any(part.endswith(b"zygote.py") for part in argv)
    return pid, argv[argv.index(next(p for p in argv if p.endswith(b"zygote.py"))) + 1].decode()


def test_a_run_cannot_ask_the_zygote_for_another():
    _, path = zygote()
    asker = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        asker.connect(path)
    except OSError:
        return  # not even reachable: refused
    request = b'{"cwd": "/", "args": [], "env": {}, "path": [], "limits": {}}'
    try:
        socket.send_fds(asker, [request], [1, 1, 1])
        answer = asker.recv(64)
    except OSError:
        answer = b""  # closed on us
    assert answer == b""  # no run was started


def test_a_run_cannot_read_or_trace_the_zygote():
    pid, _ = zygote()
    for name in ("mem", "environ"):
        with pytest.raises(PermissionError):
            open(f"/proc/{pid}/{name}", "rb").read(1)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.ptrace(16, pid, 0, 0) == -1  # PTRACE_ATTACH
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the zygote's user differs from the line's only as root")
def test_the_code_under_test_cannot_reach_into_the_zygote(
    tmp_path: Path,
    sandbox_python: Path,  # noqa: F811
) -> None:
    result = ProcessSandbox(sandbox_python, warm=True).run_tests(service_with_tests(tmp_path, ATTACKS))
    assert result.ok and result.passed == 2, result.output
