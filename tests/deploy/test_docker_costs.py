"""With Docker, a service's containers cost their CPU seconds and memory, read from the engine's stats: the
running ones sampled when `intentops usage` asks, and each one a last time when the runtime stops it
(undeployed or replaced), so its figures outlive the container. Another installation's containers on the
same engine are not this one's to price."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker import DockerClient
from docker.errors import NotFound
from docker.models.containers import Container
from typer.testing import CliRunner

from bot.cli.main import build_app
from pipeline.costs import RateCard, ServiceCost, service_costs
from pipeline.deploy.docker import LABEL_OWNER, LABEL_SERVICE, LABEL_VERSION, DockerRuntime
from pipeline.deploy.samples import ContainerSamples
from pipeline.deploy.wiring import DeploySetup
from pipeline.llm.usage import month_of, utc_now
from pipeline.state import Database, default_sqlite_url
from tests.deploy.conftest import BASE_IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("docker")]

BURNT = "burnt"
# Half a second of CPU, then say so and idle: the figures then stay put while the test reads them.
BURN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
    "end = time.process_time() + 0.25\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    f"print({BURNT!r}, flush=True)\n"
    "time.sleep(3600)\n"
)
PRICED = RateCard(
    build_second_usd=0, sandbox_second_usd=0, uptime_hour_usd=0, cpu_second_usd=1, memory_gb_hour_usd=1
)


def _usage(data_dir: Path) -> dict[str, dict[str, float]]:
    env = {
        "INTENTOPS_DATA_DIR": str(data_dir),
        "INTENTOPS_DEPLOY_BACKEND": "docker",
        "DATABASE_URL": None,
        "INTENTOPS_RATE_CARD": None,
    }
    result = CliRunner().invoke(build_app(), ["usage", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["containers_not_sampled"] == ""
    return {row["service"]: row for row in report["services"]}


def _cost(database: Database, service: str) -> ServiceCost:
    now = utc_now()
    (cost,) = [
        c for c in service_costs(database, month=month_of(now), now=now, rates=PRICED) if c.service == service
    ]
    return cost


def _burn(engine: DockerClient, *, service: str, owner: str) -> Container:
    return engine.containers.run(
        BASE_IMAGE,
        ["python3", "-c", BURN],
        detach=True,
        labels={LABEL_SERVICE: service, LABEL_VERSION: "v1", LABEL_OWNER: owner},
        network_mode="none",
        mem_limit="64m",
    )


@pytest.fixture
def burners(docker_engine: DockerClient, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """Two containers burning some CPU on the engine: one of this installation (the data directory's owner
    label), one of another installation. (Our service, our owner, theirs.)"""
    owner = DeploySetup(data_dir=tmp_path.absolute(), registry_url="", registry_token="").owner
    ours, theirs = f"burn-{uuid.uuid4().hex[:8]}", f"burn-{uuid.uuid4().hex[:8]}"
    containers = [
        _burn(docker_engine, service=ours, owner=owner),
        _burn(docker_engine, service=theirs, owner=uuid.uuid4().hex[:16]),
    ]
    deadline = time.monotonic() + 30
    for container in containers:
        while BURNT not in container.logs().decode():
            assert time.monotonic() < deadline, "the container did not burn its CPU in time"
            container.reload()
            assert container.status in ("created", "running"), container.logs().decode()
            time.sleep(0.05)
    yield ours, owner, theirs
    for container in containers:
        with contextlib.suppress(NotFound):
            container.remove(force=True)


def test_cpu_and_memory_are_sampled_live_and_survive_the_containers_stop(
    docker_engine: DockerClient, burners: tuple[str, str, str], tmp_path: Path
) -> None:
    service, owner, other_installations = burners
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()

    usage = _usage(tmp_path)
    assert other_installations not in usage, "another installation's containers are neither sampled nor ours"
    live = usage[service]
    assert live["cpu_seconds"] >= 0.2, live
    assert live["memory_gb_hours"] > 0, live
    before = _cost(database, service)

    samples = ContainerSamples(database)
    runtime = DockerRuntime(
        docker_engine, base_image=BASE_IMAGE, wheelhouse=tmp_path, owner=owner, on_stop=samples.record_final
    )
    (instance,) = [i for i in runtime.discover() if i.name == service]
    runtime.stop(instance)
    assert not docker_engine.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={service}"})

    after = _usage(tmp_path)[service]
    assert after["cpu_seconds"] >= live["cpu_seconds"], "the figures outlive the container"
    final = _cost(database, service)
    assert final.memory_gb_hours > before.memory_gb_hours, "its memory counts until it stopped"
    assert final.compute_usd == pytest.approx(final.cpu_seconds + final.memory_gb_hours)
    database.dispose()
