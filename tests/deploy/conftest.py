"""Deploy fixtures: a real wheelhouse and venv, a real registry server on 127.0.0.1, real processes."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

import pytest
import uvicorn
from docker import DockerClient
from docker.errors import DockerException, ImageNotFound
from pydantic import SecretStr

from bot.registry_api import create_registry_app
from pipeline.deploy import (
    Backend,
    Deployer,
    DeployerConfig,
    DeploymentRecords,
    LocalProcessRuntime,
    WheelhouseVenvs,
)
from pipeline.deploy.bridge import Listeners, listen
from pipeline.deploy.docker import DockerRuntime, docker_client
from pipeline.registry import RegistryStore
from pipeline.state import Database
from pipeline.wheelhouse import WheelhouseError, prepare_wheelhouse, service_requirements
from tests.conftest import ROOT

TEMPLATE = Path(__file__).parent / "service_template"
CACHE = ROOT / ".data" / "test-cache"
WHEELHOUSE = ROOT / ".data" / "wheelhouse"
REGISTRY_TOKEN = "deploy-tests-registry-token"
BASE_IMAGE = os.environ.get("INTENTOPS_BASE_IMAGE", "intentops-base:bookworm")

MakeService = Callable[..., Path]


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The generated services' wheelhouse (set-up prepares it; downloaded here once if it is missing)."""
    try:
        prepare_wheelhouse(WHEELHOUSE)
    except WheelhouseError as exc:
        pytest.fail(f"could not prepare the wheelhouse: {exc}")
    return WHEELHOUSE


@pytest.fixture(scope="session")
def venvs(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> WheelhouseVenvs:
    provider = WheelhouseVenvs(wheelhouse, CACHE / "venvs")
    sample = tmp_path_factory.mktemp("venv-sample")
    (sample / "requirements.txt").write_text(service_requirements())
    provider.python_for(sample)  # build once, outside any test's time
    return provider


def copy_service(
    target: Path,
    *,
    greeting: str = "hello",
    healthy: bool = True,
    crash: bool = False,
    name: str = "hello-fixture",
) -> Path:
    """The fixture service copied to `target`; `healthy=False` builds a version that fails."""
    shutil.copytree(TEMPLATE, target)
    (target / "requirements.txt").write_text(service_requirements())
    if name != "hello-fixture":
        for file in (target / "service.yaml", target / "app" / "main.py"):
            file.write_text(file.read_text().replace("hello-fixture", name))
    behaviour = f"GREETING = {greeting!r}\nHEALTHY = {healthy!r}\n"
    if crash:
        behaviour += 'raise RuntimeError("this build is broken")\n'
    (target / "app" / "behaviour.py").write_text(behaviour)
    return target


@pytest.fixture
def make_service(tmp_path: Path) -> MakeService:
    """Copy the fixture service into a folder of its own; `healthy=False` builds a version that fails."""

    def make(
        label: str,
        *,
        greeting: str = "hello",
        healthy: bool = True,
        crash: bool = False,
        name: str = "hello-fixture",
        root: Path | None = None,
    ) -> Path:
        target = (root or tmp_path / "services") / label
        return copy_service(target, greeting=greeting, healthy=healthy, crash=crash, name=name)

    return make


@pytest.fixture
def registry(database: Database) -> RegistryStore:
    return RegistryStore(database, ttl=timedelta(seconds=5))


@pytest.fixture
def registry_url(registry: RegistryStore) -> Iterator[str]:
    """The registry's HTTP API served for real by uvicorn on a free loopback port, the way `intentops
    registry serve` serves it (with a Docker engine: on the bridge gateway too, for containers)."""
    app = create_registry_app(registry, SecretStr(REGISTRY_TOKEN))
    with serve_listeners(listen(app, "127.0.0.1", 0)) as url:
        yield url


@contextmanager
def serve_listeners(listeners: Listeners) -> Iterator[str]:
    """Serve bound listeners in a thread until the block ends; yields the loopback URL."""
    config = uvicorn.Config(listeners.app, port=listeners.port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, args=(listeners.sockets,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the registry did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listeners.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def local_deployer(
    database: Database, registry: RegistryStore, venvs: WheelhouseVenvs, tmp_path: Path, registry_url: str
) -> Deployer:
    """A local deployer as a bot process would build it; call again to simulate the bot restarting."""
    runtime = LocalProcessRuntime(venvs, tmp_path / "logs")
    config = DeployerConfig(
        data_dir=tmp_path / "service-data",
        registry_url=registry_url,
        registry_token=REGISTRY_TOKEN,
        heartbeat_seconds=0.5,
        health_timeout=20,
        drain_seconds=0.3,
    )
    return Deployer(runtime, DeploymentRecords(database, Backend.LOCAL), registry, config)


@pytest.fixture
def deployer(
    database: Database, registry: RegistryStore, venvs: WheelhouseVenvs, tmp_path: Path, registry_url: str
) -> Iterator[Deployer]:
    built = local_deployer(database, registry, venvs, tmp_path, registry_url)
    yield built
    for instance in built.records.all():  # never leave a process behind
        built.runtime.stop(instance)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerClient]:
    """The Docker engine and the local base image, installed by scripts/docker.sh. In CI their absence is a
    failure, never a skip."""
    try:
        client = docker_client()
    except DockerException as exc:
        _absent(f"no Docker engine ({exc}); run ./scripts/docker.sh")
    try:
        client.images.get(BASE_IMAGE)
    except ImageNotFound:
        _absent(f"base image {BASE_IMAGE} missing; run ./scripts/docker.sh")
    yield client
    client.close()


def _absent(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def docker_deployer(
    database: Database,
    registry: RegistryStore,
    docker_engine: DockerClient,
    wheelhouse: Path,
    tmp_path: Path,
    registry_url: str,
) -> Iterator[Deployer]:
    runtime = DockerRuntime(
        docker_engine, base_image=BASE_IMAGE, wheelhouse=wheelhouse, keep_images=2, owner=uuid.uuid4().hex
    )
    config = DeployerConfig(
        data_dir=tmp_path / "service-data",
        registry_url=registry_url,
        registry_token=REGISTRY_TOKEN,
        heartbeat_seconds=0.5,
        health_timeout=30,
        drain_seconds=1.0,
    )
    built = Deployer(runtime, DeploymentRecords(database, Backend.DOCKER), registry, config)
    yield built
    for instance in built.records.all():
        runtime.stop(instance)
