"""The Docker sandbox: a container with no network, a read-only root, limits, as nobody."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from docker.errors import ImageNotFound

from pipeline.sandbox import Isolation
from pipeline.sandbox.docker_runner import DockerSandbox, DockerSandboxError
from pipeline.spec.render import read_spec
from tests.factory.test_sandbox import service_with_tests

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("docker")]
WHEELHOUSE = Path(__file__).resolve().parents[2] / ".data" / "wheelhouse"


@pytest.fixture(scope="session")
def docker_sandbox(sandbox_python: Path) -> DockerSandbox:
    """Needs the engine and base image from scripts/docker.sh: in CI their absence fails, elsewhere skips."""
    try:
        sandbox = DockerSandbox(wheelhouse=WHEELHOUSE)
        sandbox.client.images.get(sandbox.base_image)
    except (DockerSandboxError, ImageNotFound) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Docker sandbox unavailable: {exc}")
        pytest.skip(f"Docker sandbox unavailable: {exc}")
    return sandbox


def test_generated_service_passes_in_a_container(
    docker_sandbox: DockerSandbox, generated: dict[str, Path]
) -> None:
    result = docker_sandbox.run_tests(generated["hello-world"])
    assert result.ok, result.output
    assert result.isolation is Isolation.DOCKER and result.user == "nobody"
    assert result.passed == len(read_spec(generated["hello-world"]).acceptance_criteria)


def test_the_container_has_no_network_and_a_read_only_root(
    docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    body = """
    import os
    import socket

    import pytest


    def test_no_route_anywhere():
        with pytest.raises(OSError):
            socket.create_connection(("10.0.0.1", 80), timeout=2)


    def test_root_filesystem_is_read_only():
        with pytest.raises(OSError):
            open("/etc/intentops-was-here", "w")


    def test_not_root():
        assert os.geteuid() == 65534
    """
    result = docker_sandbox.run_tests(service_with_tests(tmp_path, body))
    assert result.ok, result.output


def test_a_failing_test_is_reported(docker_sandbox: DockerSandbox, tmp_path: Path) -> None:
    result = docker_sandbox.run_tests(
        service_with_tests(tmp_path, "def test_bad():\n    assert False, 'nope'\n")
    )
    assert result.failed == 1 and not result.ok
    assert "nope" in result.failures[0].message


def test_without_an_engine_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DockerSandboxError, match="no Docker engine answers"):
        DockerSandbox(wheelhouse=WHEELHOUSE)
