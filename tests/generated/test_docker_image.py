"""Generated containers with the real Docker engine: `docker build` of a generated folder alone (given a
BASE_IMAGE that holds the wheelhouse), and the line's Docker runtime running it as an unprivileged user on a
read-only root filesystem, its data on the volume only (kept across containers)."""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker.errors import DockerException, NotFound

from pipeline.deploy.docker import DockerRuntime, docker_client
from pipeline.deploy.local import free_port
from pipeline.deploy.model import Artifact, LaunchPlan
from pipeline.manifest import ServiceManifest
from tests.conftest import ROOT

BASE_IMAGE = "intentops-base:bookworm"
WHEELHOUSE = ROOT / ".data" / "wheelhouse"
SERVICE_UID = "10001"

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.xdist_group("docker")]


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerClient]:
    try:
        client = docker_client()
        client.images.get(BASE_IMAGE)
    except DockerException as exc:
        pytest.fail(f"no Docker engine with {BASE_IMAGE} ({exc}); run ./scripts/docker.sh")
    yield client
    client.close()


@pytest.fixture(scope="module")
def wheels_base(engine: DockerClient) -> Iterator[str]:
    """The base image plus the wheelhouse at /opt/intentops/wheelhouse, as the generated README says."""
    tag = f"intentops-wheels-test:{uuid.uuid4().hex[:12]}"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        dockerfile = f"FROM {BASE_IMAGE}\nCOPY wheelhouse/ /opt/intentops/wheelhouse/\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(WHEELHOUSE, arcname="wheelhouse")
    archive.seek(0)
    engine.images.build(fileobj=archive, custom_context=True, tag=tag, network_mode="none", rm=True)
    yield tag
    engine.images.remove(tag, force=True)


def test_a_generated_folder_builds_alone_given_a_base_image(
    engine: DockerClient, wheels_base: str, example_services: dict[str, Path]
) -> None:
    folder = example_services["hello-world"]
    assert not (folder / "wheelhouse").exists()  # nothing but what the generator wrote
    tag = f"hello-world-alone:{uuid.uuid4().hex[:12]}"
    image, _logs = engine.images.build(
        path=str(folder), tag=tag, buildargs={"BASE_IMAGE": wheels_base}, network_mode="none", rm=True
    )
    try:
        assert image.attrs["Config"]["User"] == f"{SERVICE_UID}:{SERVICE_UID}"
        assert "/data" in image.attrs["Config"]["Volumes"]
    finally:
        engine.images.remove(tag, force=True)


@pytest.fixture
def runtime(engine: DockerClient) -> Iterator[DockerRuntime]:
    runtime = DockerRuntime(engine, base_image=BASE_IMAGE, wheelhouse=WHEELHOUSE, owner=uuid.uuid4().hex)
    yield runtime
    for image in runtime.images_of("todo"):
        engine.images.remove(image.id, force=True)
    with contextlib.suppress(NotFound):
        engine.volumes.get(runtime.volume_name("todo")).remove(force=True)


def _start(runtime: DockerRuntime, folder: Path, artifact: Artifact) -> tuple[str, str]:
    manifest = ServiceManifest.load(folder)
    port = free_port()
    plan = LaunchPlan(
        name="todo",
        version="v1",
        service_dir=folder,
        entrypoint=manifest.entrypoint,
        container_port=manifest.port,
        health_path=manifest.health_path,
        artifact=artifact,
        environment={},
    )
    instance = runtime.start(plan, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{instance.url}/health", timeout=2).status_code == 200:
                return instance.handle, instance.url
        time.sleep(0.2)
    pytest.fail(f"todo did not become healthy: {runtime.log_tail(instance, 30)}")


def test_the_runtime_runs_it_unprivileged_read_only_with_data_on_the_volume(
    runtime: DockerRuntime, engine: DockerClient, example_services: dict[str, Path]
) -> None:
    folder = example_services["todo"]  # SQLite under DATA_DIR
    artifact = runtime.prepare(folder, ServiceManifest.load(folder), "v1")
    handle, url = _start(runtime, folder, artifact)
    container = engine.containers.get(handle)
    try:
        assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True
        assert container.exec_run("id -u").output.decode().strip() == SERVICE_UID
        refused = container.exec_run(["sh", "-c", "touch /srv/service/app/x"])
        assert refused.exit_code != 0 and b"Read-only file system" in refused.output
        task = httpx.post(f"{url}/tasks", json={"title": "kept", "due": "2001-01-01T00:00:00Z"}).json()
        assert container.exec_run(["ls", "/data"]).output.decode().split() == ["todo.db"]
    finally:
        container.remove(force=True)
    handle, url = _start(runtime, folder, artifact)  # a new container on the same volume
    try:
        assert httpx.get(f"{url}/tasks/overdue").json() == [task]
    finally:
        engine.containers.get(handle).remove(force=True)
