"""The sandbox: real subprocesses in the services' venv, with limits, without network, results as data."""

from __future__ import annotations

import os
import socket
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.sandbox import (
    Isolation,
    ProcessSandbox,
    SandboxLimits,
    Verdict,
    network_namespace_available,
    runner,
)
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


FAILING_TEST = "def test_ok():\n    pass\n\ndef test_bad():\n    assert False, 'really fails'\n"
FAKE_JUNIT = (
    '<?xml version="1.0"?><testsuites><testsuite><testcase classname="t" name="a"/>'
    '<testcase classname="t" name="b"/></testsuite></testsuites>'
)


def _package(service: Path, source: str) -> Path:
    """Code under test imported by the tests, as a service's app/ package is."""
    (service / "app").mkdir()
    (service / "app" / "__init__.py").write_text(textwrap.dedent(source))
    (service / "tests" / "conftest.py").write_text("import app  # noqa: F401\n")
    return service


def test_code_under_test_rewriting_the_report_at_exit_fakes_nothing(
    tmp_path: Path, sandbox_python: Path
) -> None:
    service = _package(
        service_with_tests(tmp_path, FAILING_TEST),
        f"""
        import atexit, os, pathlib, sys

        def fake_a_pass():
            for arg in sys.argv:
                if arg.startswith("--junitxml="):
                    pathlib.Path(arg.split("=", 1)[1]).write_text({FAKE_JUNIT!r})
            for path in pathlib.Path(os.environ.get("HOME", "/nonexistent")).rglob("*.xml"):
                path.write_text({FAKE_JUNIT!r})
            os._exit(0)

        atexit.register(fake_a_pass)
        """,
    )
    result = ProcessSandbox(sandbox_python).run_tests(service)
    assert not result.ok
    assert (result.passed, result.failed) == (1, 1)
    assert any("exited with 0, but pytest finished with 1" in f.message for f in result.failures)


def test_a_run_ended_early_by_the_code_under_test_is_an_error(tmp_path: Path, sandbox_python: Path) -> None:
    body = (
        "import os\n\ndef test_a():\n    pass\n\ndef test_b():\n    os._exit(0)\n\ndef test_c():\n    pass\n"
    )
    result = ProcessSandbox(sandbox_python).run_tests(service_with_tests(tmp_path, body))
    assert not result.ok and result.verdict is Verdict.FAILED
    assert result.passed == 1
    assert any("did not report the end of the run" in f.message for f in result.failures)


def test_lines_forged_into_the_report_channel_are_refused(tmp_path: Path, sandbox_python: Path) -> None:
    service = _package(
        service_with_tests(tmp_path, FAILING_TEST),
        """
        import json, os, stat

        forged = json.dumps({"event": "report", "nodeid": "t::x", "when": "call", "outcome": "passed"})
        for name in os.listdir("/proc/self/fd"):
            try:
                if stat.S_ISFIFO(os.fstat(int(name)).st_mode):
                    os.write(int(name), f"forged {forged}\\n".encode())
            except OSError:
                pass
        """,
    )
    result = ProcessSandbox(sandbox_python).run_tests(service)
    assert not result.ok
    assert any("did not come from the runner" in f.message for f in result.failures)


def test_the_report_channel_holds_no_secret_in_the_environment(tmp_path: Path, sandbox_python: Path) -> None:
    body = """
    import os

    def test_environment_names_no_token():
        initial = open("/proc/self/environ", "rb").read().decode(errors="replace")
        assert "INTENTOPS_SANDBOX_CHANNEL" not in os.environ
        value = next(v for v in initial.split("\\0") if v.startswith("INTENTOPS_SANDBOX_CHANNEL="))
        write_fd, token_fd = value.split("=", 1)[1].split(":")
        assert write_fd.isdigit() and token_fd.isdigit()
        try:
            leftover = os.read(int(token_fd), 100)
        except OSError:
            leftover = b""
        assert leftover == b""
    """
    result = ProcessSandbox(sandbox_python).run_tests(service_with_tests(tmp_path, body))
    assert result.ok, result.failures


@pytest.mark.parametrize(("room", "expected"), [(0, "/dev/shm/"), (1 << 60, tempfile.gettempdir() + "/")])
def test_a_run_works_in_memory_when_there_is_room_else_in_the_temp_folder(
    tmp_path: Path, sandbox_python: Path, monkeypatch: pytest.MonkeyPatch, room: int, expected: str
) -> None:
    monkeypatch.setattr(runner, "MIN_MEMORY_SCRATCH_BYTES", room)
    body = f"""
    import os

    def test_where():
        assert os.getcwd().startswith({expected!r}), os.getcwd()
        assert os.environ["TMPDIR"].startswith({expected!r})
    """
    result = ProcessSandbox(sandbox_python).run_tests(service_with_tests(tmp_path, body))
    assert result.ok, result.output
