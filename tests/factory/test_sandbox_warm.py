"""Warm sandbox runs: forked from a zygote of the services' venv, with a cold run's user, network and time
limit, and a zygote that went away replaced by the next run."""

from __future__ import annotations

import os
import signal
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.sandbox import ProcessSandbox, SandboxLimits, Verdict, network_namespace_available
from pipeline.sandbox.forkserver import _servers
from tests.factory.test_sandbox import service_with_tests

ISOLATED = """
import os
import socket

import pytest


def test_forked_from_the_zygote():
    with open(f"/proc/{{os.getppid()}}/cmdline", "rb") as handle:
        assert b"zygote.py" in handle.read()


def test_host_is_unreachable():
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", {port}), timeout=2)


def test_own_loopback_works():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=2).close()


def test_not_root():
    assert os.geteuid() != 0
"""


@pytest.fixture
def host_listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.mark.skipif(
    not network_namespace_available() and os.environ.get("CI") != "true", reason="needs unshare"
)
def test_a_warm_run_has_a_cold_runs_isolation_and_a_new_zygote_replaces_one_that_died(
    tmp_path: Path, sandbox_python: Path, host_listener: int
) -> None:
    service = service_with_tests(tmp_path / "a", ISOLATED.format(port=host_listener))
    sandbox = ProcessSandbox(sandbox_python, warm=True)
    first = sandbox.run_tests(service)
    assert first.ok and first.passed == 4, first.output
    assert first.user == ("nobody" if os.geteuid() == 0 else first.user)

    for server in list(_servers.values()):
        os.killpg(server._process.pid, signal.SIGKILL)  # the zygote (and its namespace) is gone
        server._process.wait()
    again = sandbox.run_tests(service)
    assert again.ok and again.passed == 4, again.output


def test_the_time_limit_kills_a_warm_run(tmp_path: Path, sandbox_python: Path) -> None:
    body = "import time\n\ndef test_forever():\n    time.sleep(60)\n"
    limits = SandboxLimits(timeout_s=2)
    result = ProcessSandbox(sandbox_python, limits=limits, warm=True).run_tests(
        service_with_tests(tmp_path, textwrap.dedent(body))
    )
    assert result.timed_out and result.verdict is Verdict.TIMED_OUT
