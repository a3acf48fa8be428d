"""The local-process runtime: uvicorn from the service's own venv on a free 127.0.0.1 port.

Processes run in their own session, so they outlive the bot; the pid and the kernel's start time of the
process are recorded, so a restarted bot adopts exactly the processes it started (never a recycled pid).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from pipeline.deploy.model import LOOPBACK, Artifact, Backend, Instance, LaunchPlan
from pipeline.deploy.venvs import VenvProvider
from pipeline.manifest import ServiceManifest

STOP_GRACE_SECONDS = 10.0
# Variables a service may inherit from the bot's environment; everything else (API keys, tokens) stays out.
INHERITED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
DEFAULT_BASE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def free_port() -> int:
    """A port the OS says is free now. Another process could take it before uvicorn binds; the health
    check then fails and the deploy is reported as failed, never half-done."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces or parentheses: split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def process_start_time(pid: int) -> str:
    stat = _proc_stat(pid)
    return stat[19] if stat else ""  # field 22: start time in clock ticks since boot


def process_alive(pid: int, started_marker: str) -> bool:
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):  # a zombie has exited, whatever kill(0) says
        return False
    return not started_marker or stat[19] == started_marker


def tail(path: Path, lines: int) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except OSError:
        return ""


class LocalProcessRuntime:
    """Starts, checks and stops services as local processes; logs go to one file per version."""

    backend = Backend.LOCAL

    def __init__(
        self, venvs: VenvProvider, logs_dir: Path, *, base_environment: Mapping[str, str] | None = None
    ) -> None:
        self._venvs = venvs
        self._logs_dir = logs_dir
        inherited = DEFAULT_BASE_ENVIRONMENT if base_environment is None else base_environment
        self._base_environment = {k: v for k, v in inherited.items() if k in INHERITED_ENVIRONMENT}
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def prepare(self, service_dir: Path, manifest: ServiceManifest, version: str) -> Artifact:
        return Artifact(reference=str(self._venvs.python_for(service_dir)))

    def allocate_port(self) -> int:
        return free_port()

    def service_host(self) -> str:
        return LOOPBACK

    def start(self, plan: LaunchPlan, port: int) -> Instance:
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._logs_dir / f"{plan.name}-{plan.version[:12]}-{port}.log"
        command = [
            plan.artifact.reference,
            "-m",
            "uvicorn",
            plan.entrypoint,
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--app-dir",
            str(plan.service_dir),
            "--timeout-graceful-shutdown",
            "5",
        ]
        environment = {**self._base_environment, **plan.environment, "PYTHONUNBUFFERED": "1"}
        with log_path.open("ab") as log:
            child = subprocess.Popen(
                command,
                cwd=plan.service_dir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: survives the bot, stopped as a group
            )
        self._children[child.pid] = child
        return plan.started(
            self.backend,
            handle=str(child.pid),
            port=port,
            log_path=str(log_path),
            started_marker=process_start_time(child.pid),
        )

    def is_alive(self, instance: Instance) -> bool:
        pid = int(instance.handle)
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:  # reap our own exited child
            self._children.pop(pid, None)
            return False
        return process_alive(pid, instance.started_marker)

    def stop(self, instance: Instance) -> None:
        """SIGTERM to the process group (uvicorn drains open requests), SIGKILL after a grace period."""
        pid = int(instance.handle)
        if not self.is_alive(instance):
            return
        self._signal(pid, signal.SIGTERM)
        self._signal(pid, signal.SIGCONT)  # a stopped (SIGSTOP) process acts on SIGTERM only once continued
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline:
            if not self.is_alive(instance):
                return
            time.sleep(0.05)
        self._signal(pid, signal.SIGKILL)
        child = self._children.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)

    def log_tail(self, instance: Instance, lines: int) -> str:
        return tail(Path(instance.log_path), lines) if instance.log_path else ""

    def discover(self) -> list[Instance]:
        # Processes carry no label to find them by; the deployment records are the only inventory.
        return []

    @staticmethod
    def _signal(pid: int, signum: int) -> None:
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(pid, signum)
