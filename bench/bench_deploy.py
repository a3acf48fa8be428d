"""Merge-to-healthy for the generated hello-world service: local process and Docker, against a bare
`docker run` of the same image measured in the same run.

    .venv/bin/python bench/bench_deploy.py [--runs 5] [--skip-docker]

Each run deploys a new version (a new merge SHA) blue/green over the previous one and stops the clock when
the deployer returns (new version healthy and switched; the drain of the old one is excluded). The Docker
image build runs with the base image and the wheel layers cached, as after the first merge.
Targets (issue 6): local under 2 s median, Docker under 8 s median.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docker.errors import DockerException  # noqa: E402

from pipeline.codegen.generator import generate_service  # noqa: E402
from pipeline.deploy import Backend, Deployer, DeployRequest  # noqa: E402
from pipeline.deploy.docker import DockerRuntime  # noqa: E402
from pipeline.deploy.health import wait_healthy  # noqa: E402
from pipeline.deploy.local import free_port  # noqa: E402
from pipeline.deploy.wiring import DeploySetup, build_deployer  # noqa: E402
from pipeline.intents import load_intent_file  # noqa: E402
from pipeline.registry import RegistryStore  # noqa: E402
from pipeline.spec.builder import build_spec  # noqa: E402
from pipeline.state import Database, default_sqlite_url  # noqa: E402
from pipeline.wheelhouse import prepare_wheelhouse  # noqa: E402

NAME = "hello-world"
BASELINE = "bare docker run (baseline)"
TARGETS = {Backend.LOCAL: 2.0, Backend.DOCKER: 8.0}


def generate(root: Path) -> Path:
    examples = ROOT / "examples"
    intent = load_intent_file(examples / "intents" / f"{NAME}.yaml")
    spec = build_spec(intent, blueprint=(examples / "BLUEPRINT.md").read_text(encoding="utf-8"))
    return generate_service(spec, root / NAME, intent_path=f"intents/{NAME}.yaml").directory


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench_backend(deployer: Deployer, service: Path, runs: int) -> list[float]:
    deployer.config = dataclasses.replace(deployer.config, drain_seconds=0.0)
    # The first deploy builds the venv or image layers once; it is not counted.
    deployer.deploy(DeployRequest(service, uuid.uuid4().hex))
    times = []
    for _ in range(runs):
        seconds, result = timed(lambda: deployer.deploy(DeployRequest(service, uuid.uuid4().hex)))
        if not result.ok:  # type: ignore[attr-defined]
            raise SystemExit(f"deploy failed: {result.message}")  # type: ignore[attr-defined]
        times.append(seconds)
    deployer.undeploy(NAME)
    return times


def bare_docker_run(deployer: Deployer, runs: int) -> list[float]:
    """The baseline: `docker run` of the last built image and wait for /health, nothing else."""
    assert isinstance(deployer.runtime, DockerRuntime)
    client = deployer.runtime.client
    image = deployer.runtime.images_of(NAME)[0]  # the bench's own, newest first
    times = []
    for _ in range(runs):
        port = free_port()
        started = time.perf_counter()
        container = client.containers.run(image.id, detach=True, ports={"8080/tcp": ("127.0.0.1", port)})
        try:
            health = wait_healthy(f"http://127.0.0.1:{port}/health", timeout=60, is_alive=lambda: True)
            if not health.ok:
                raise SystemExit(f"bare docker run never became healthy: {health.detail}")
            times.append(time.perf_counter() - started)
        finally:
            container.remove(force=True)
    return times


def remove_images(deployer: Deployer) -> None:
    assert isinstance(deployer.runtime, DockerRuntime)
    client = deployer.runtime.client
    for image in deployer.runtime.images_of(NAME):  # only the images this run built (its owner label)
        client.images.remove(image.id, force=True)
    with contextlib.suppress(DockerException):
        client.volumes.get(deployer.runtime.volume_name(NAME)).remove(force=True)


def report(label: str, times: list[float], baseline: float | None, target: float | None) -> None:
    median = statistics.median(times)
    ratio = f"  {median / baseline:5.2f}x bare docker run" if baseline else ""
    verdict = f"  target < {target:g} s: {'met' if median < target else 'MISSED'}" if target else ""
    print(f"{label:<28} median {median:6.2f} s  (min {min(times):.2f}, max {max(times):.2f}){ratio}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-docker", action="store_true")
    args = parser.parse_args()
    wheelhouse = ROOT / ".data" / "wheelhouse"
    prepare_wheelhouse(wheelhouse)
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as scratch:
        root = Path(scratch)
        (root / "data").mkdir()
        (root / "data" / "wheelhouse").symlink_to(wheelhouse)
        db = Database(default_sqlite_url(root / "state"))
        db.create_all()
        registry = RegistryStore(db, ttl=timedelta(seconds=30))
        setup = DeploySetup(data_dir=root / "data", registry_url="", registry_token="", health_timeout=60)
        service = generate(root / "services")
        local = bench_backend(build_deployer(Backend.LOCAL, setup, db, registry), service, args.runs)
        results: dict[str, list[float]] = {"local process": local}
        if not args.skip_docker:
            try:
                docker = build_deployer(Backend.DOCKER, setup, db, registry)
            except DockerException as exc:
                raise SystemExit(
                    f"no Docker engine ({exc}); run scripts/docker.sh or pass --skip-docker"
                ) from None
            results["docker"] = bench_backend(docker, service, args.runs)
            results[BASELINE] = bare_docker_run(docker, args.runs)
            remove_images(docker)
        db.dispose()
    print(f"merge-to-healthy, {NAME}, {args.runs} runs each")
    baseline = None
    if BASELINE in results:
        baseline = statistics.median(results[BASELINE])
        report(BASELINE, results[BASELINE], None, None)
    report("local process", local, baseline, TARGETS[Backend.LOCAL])
    if "docker" in results:
        report("docker", results["docker"], baseline, TARGETS[Backend.DOCKER])


if __name__ == "__main__":
    main()
