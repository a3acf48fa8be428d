"""Fixtures of the tests of generated services: every example that reaches the gate offline, generated once
per session, and a way to start one as a deployer would (`python -m app` on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pipeline.codegen.generator import generate_service
from pipeline.spec.builder import build_spec
from pipeline.spec.optimizer import optimize
from pipeline.wheelhouse import cached_venv, prepare_wheelhouse, service_requirements, venv_python
from tests.conftest import EXAMPLES, ROOT
from tests.factory.conftest import STRUCTURED, load_example
from tests.fixtures.servers import free_port

START_TIMEOUT_S = 30.0


@pytest.fixture(scope="session")
def example_services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every example whose hints say everything, generated from the SPEC the line would accept."""
    root = tmp_path_factory.mktemp("examples")
    blueprint = (EXAMPLES / "BLUEPRINT.md").read_text(encoding="utf-8")
    services = {}
    for name in STRUCTURED:
        report = optimize(build_spec(load_example(EXAMPLES, name), blueprint=blueprint))
        assert report.reached_gate, (name, report.verification.to_json())
        services[name] = generate_service(report.spec, root / name).directory
    return services


@pytest.fixture(scope="session")
def service_python() -> Path:
    """The interpreter of the generated services' pinned venv (built offline from the wheelhouse)."""
    data = ROOT / ".data"
    prepare_wheelhouse(data / "wheelhouse")  # a no-op once set-up has run
    venv = cached_venv(
        service_requirements(with_tests=True), wheelhouse=data / "wheelhouse", cache_dir=data / "venvs"
    )
    return venv_python(venv)


@contextmanager
def running(directory: Path, python: Path, data_dir: Path, **env: str) -> Iterator[str]:
    """The service in `directory` serving on a free loopback port until the block ends; its URL."""
    port = free_port()
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(data_dir),
        **env,
    }
    process = subprocess.Popen(
        [str(python), "-m", "app"],
        cwd=directory,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the service exited with {process.returncode}:\n{output[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the service at {url} did not become healthy in {START_TIMEOUT_S}s")
