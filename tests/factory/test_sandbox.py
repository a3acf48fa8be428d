"""The sandbox: real subprocesses in the services' venv, with limits, without network, results as data."""

from __future__ import annotations

import os
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.sandbox import Isolation, ProcessSandbox, SandboxLimits, Verdict, network_namespace_available
from pipeline.spec.render import read_spec
from pipeline.wheelhouse import service_requirements
from tests.factory.conftest import STRUCTURED

PYPROJECT = '[tool.pytest.ini_options]\npythonpath = ["."]\ntestpaths = ["tests"]\n'


def service_with_tests(root: Path, body: str) -> Path:
    """A minimal service folder whose only test file holds `body`."""
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "requirements-test.txt").write_text(service_requirements(with_tests=True))
    (root / "tests" / "test_it.py").write_text(textwrap.dedent(body))
    return root


@pytest.mark.parametrize("name", STRUCTURED)
def test_generated_services_pass_in_the_sandbox(
    generated: dict[str, Path], sandbox_python: Path, name: str
) -> None:
    result = ProcessSandbox(sandbox_python).run_tests(generated[name])
    assert result.ok, result.output
    assert result.passed == len(read_spec(generated[name]).acceptance_criteria)
    assert result.duration_s > 0
    if network_namespace_available():
        assert result.isolation is Isolation.NETWORK_NAMESPACE
    assert not (generated[name] / "data").exists(), "the run must not write into the source folder"


def test_failures_come_back_with_their_text(tmp_path: Path, sandbox_python: Path) -> None:
    service = service_with_tests(
        tmp_path, "def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 + 1 == 3, 'arithmetic broke'\n"
    )
    result = ProcessSandbox(sandbox_python).run_tests(service)
    assert (result.passed, result.failed, result.verdict) == (1, 1, Verdict.FAILED)
    assert not result.ok
    assert result.failures[0].test.endswith("test_bad")
    assert "arithmetic broke" in result.failures[0].message


def test_zero_tests_is_a_failure(tmp_path: Path, sandbox_python: Path) -> None:
    result = ProcessSandbox(sandbox_python).run_tests(service_with_tests(tmp_path, "X = 1\n"))
    assert result.verdict is Verdict.NO_TESTS
    assert not result.ok


def test_a_skipped_test_is_a_failure(tmp_path: Path, sandbox_python: Path) -> None:
    body = """
    import pytest

    def test_ok():
        pass

    @pytest.mark.skip(reason="later")
    def test_later():
        pass
    """
    result = ProcessSandbox(sandbox_python).run_tests(service_with_tests(tmp_path, body))
    assert (result.passed, result.skipped, result.verdict) == (1, 1, Verdict.SKIPPED_TESTS)
    assert not result.ok


def test_collection_errors_are_failures(tmp_path: Path, sandbox_python: Path) -> None:
    result = ProcessSandbox(sandbox_python).run_tests(service_with_tests(tmp_path, "import not_a_module\n"))
    assert not result.ok
    assert result.errors >= 1
    assert "not_a_module" in " ".join(f.message for f in result.failures) + result.output


def test_the_time_limit_kills_the_run(tmp_path: Path, sandbox_python: Path) -> None:
    body = "import time\n\ndef test_forever():\n    time.sleep(60)\n"
    result = ProcessSandbox(sandbox_python, limits=SandboxLimits(timeout_s=3)).run_tests(
        service_with_tests(tmp_path, body)
    )
    assert result.timed_out and result.verdict is Verdict.TIMED_OUT
    assert result.duration_s < 30


def test_the_memory_limit_holds(tmp_path: Path, sandbox_python: Path) -> None:
    body = "def test_hog():\n    block = bytearray(1024 * 1024 * 1024)\n    assert block\n"
    result = ProcessSandbox(sandbox_python, limits=SandboxLimits(memory_mb=400)).run_tests(
        service_with_tests(tmp_path, body)
    )
    assert result.failed == 1
    assert "MemoryError" in result.failures[0].message


@pytest.fixture
def host_listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.mark.skipif(
    not network_namespace_available() and os.environ.get("CI") != "true", reason="needs unshare"
)
def test_no_network_reaches_the_host(tmp_path: Path, sandbox_python: Path, host_listener: int) -> None:
    body = f"""
    import os
    import socket

    import pytest


    def test_host_is_unreachable():
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", {host_listener}), timeout=2)


    def test_own_loopback_works():
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            socket.create_connection(server.getsockname(), timeout=2).close()


    def test_not_root():
        assert os.geteuid() != 0
    """
    result = ProcessSandbox(sandbox_python).run_tests(service_with_tests(tmp_path, body))
    assert result.isolation is Isolation.NETWORK_NAMESPACE
    assert result.ok, result.output
    assert result.user == ("nobody" if os.geteuid() == 0 else result.user)


def test_links_in_the_folder_stay_links(tmp_path: Path, sandbox_python: Path) -> None:
    body = """
    from pathlib import Path


    def test_the_link_is_not_a_copy():
        link = Path("leak.txt")
        assert link.is_symlink()
    """
    service = service_with_tests(tmp_path / "svc", body)
    # A copy would hand the target's content to the run; a link keeps the target's own permissions.
    (service / "leak.txt").symlink_to("/etc/hostname")
    result = ProcessSandbox(sandbox_python).run_tests(service)
    assert result.ok, result.output
