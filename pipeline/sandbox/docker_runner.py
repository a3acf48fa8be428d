"""The Docker sandbox: the tests of a service copy run in a container with no network at all
(`network_mode="none"`), a memory and process limit, a read-only root filesystem, as nobody.

The test image (base image + the service's test requirements, installed from the wheelhouse with no
index) is built once per requirements set and reused.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, BuildError, DockerException, ImageNotFound

from pipeline.sandbox.model import Isolation, SandboxLimits, SandboxResult
from pipeline.sandbox.runner import COPY_IGNORE, OUTPUT_TAIL, REPORT, result_from

BASE_IMAGE = "intentops-base:bookworm"
IMAGE_REPOSITORY = "intentops-sandbox"
NOBODY = "65534:65534"
DOCKERFILE = """\
FROM {base}
COPY wheelhouse/ /tmp/wheelhouse/
COPY requirements-test.txt /tmp/requirements-test.txt
RUN python3 -m venv /venv \\
    && /venv/bin/pip install --no-index --find-links /tmp/wheelhouse --require-hashes \\
       --disable-pip-version-check --quiet -r /tmp/requirements-test.txt \\
    && rm -rf /tmp/wheelhouse
"""


class DockerSandboxError(RuntimeError):
    """No engine, or the test image could not be built (the message says which)."""


def docker_available() -> bool:
    try:
        docker.from_env(timeout=10).ping()
    except DockerException:
        return False
    return True


class DockerSandbox:
    def __init__(
        self, *, wheelhouse: Path, limits: SandboxLimits | None = None, base_image: str = BASE_IMAGE
    ) -> None:
        self.wheelhouse = wheelhouse
        self.limits = limits or SandboxLimits()
        self.base_image = base_image
        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except DockerException as exc:
            raise DockerSandboxError(f"no Docker engine answers: {exc}") from None

    def run_tests(self, service_dir: Path) -> SandboxResult:
        image = self.test_image((service_dir / "requirements-test.txt").read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(prefix="intentops-docker-sandbox-") as scratch:
            root = Path(scratch)
            shutil.copytree(service_dir, root / "service", ignore=COPY_IGNORE, symlinks=True)
            (root / "out").mkdir()
            for path in [root, *root.rglob("*")]:
                shutil.chown(path, 65534, 65534)
            started = time.monotonic()
            timed_out, output = self._run(image, root)
            duration = time.monotonic() - started
            return result_from(root / "out" / REPORT, output, duration, timed_out, Isolation.DOCKER, "nobody")

    def test_image(self, requirements: str) -> str:
        """The image with `requirements` installed offline; built on first use."""
        digest = hashlib.sha256(f"{self.base_image}\n{requirements}".encode()).hexdigest()[:16]
        tag = f"{IMAGE_REPOSITORY}:{digest}"
        try:
            self.client.images.get(tag)
            return tag
        except ImageNotFound:
            pass
        with tempfile.TemporaryDirectory(prefix="intentops-sandbox-image-") as scratch:
            context = Path(scratch)
            shutil.copytree(self.wheelhouse, context / "wheelhouse")
            (context / "requirements-test.txt").write_text(requirements, encoding="utf-8")
            (context / "Dockerfile").write_text(DOCKERFILE.format(base=self.base_image), encoding="utf-8")
            try:
                self.client.images.build(path=str(context), tag=tag, network_mode="none", rm=True)
            except (BuildError, APIError) as exc:
                raise DockerSandboxError(f"the test image did not build: {exc}") from None
        return tag

    def _run(self, image: str, root: Path) -> tuple[bool, str]:
        container = self.client.containers.run(image, **self._options(root), detach=True)
        try:
            try:
                container.wait(timeout=self.limits.timeout_s)
                timed_out = False
            except requests.exceptions.RequestException:  # the wait timed out: the limit has passed
                container.kill()
                timed_out = True
            output = container.logs().decode("utf-8", errors="replace")
            return timed_out, output[-OUTPUT_TAIL:]
        finally:
            container.remove(force=True)

    def _options(self, root: Path) -> dict[str, Any]:
        return {
            "command": [
                "/venv/bin/python",
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml=/out/{REPORT}",
                "-o",
                "junit_family=xunit2",
            ],
            "working_dir": "/service",
            "user": NOBODY,
            "network_mode": "none",
            "mem_limit": f"{self.limits.memory_mb}m",
            "pids_limit": self.limits.max_processes,
            "read_only": True,
            "tmpfs": {"/tmp": "size=256m"},
            "environment": {"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"},
            "volumes": {
                str(root / "service"): {"bind": "/service", "mode": "rw"},
                str(root / "out"): {"bind": "/out", "mode": "rw"},
            },
        }
