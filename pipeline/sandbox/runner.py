"""Running a generated service's tests in a sandbox: a copy of the folder, a subprocess in a cached venv,
time and memory limits, no network (its own network namespace when one can be made), an unprivileged user
when we are root, and a structured result pytest reports as the tests run, over a pipe of the runner's own
(see `channel`: the JUnit file a run leaves can be rewritten by the code under test; the Docker runner
still reads one).

The filesystem is not isolated by this runner; a Docker engine (network_mode none) is the way to get that.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree

from pipeline.sandbox.channel import PLUGIN_MODULE, Channel, ChannelReport, read_channel
from pipeline.sandbox.forkserver import ForkServer, ForkServerError, server_for
from pipeline.sandbox.model import Isolation, SandboxLimits, SandboxResult, TestFailure
from pipeline.wheelhouse import cached_venv, venv_python

REPORT = "report.xml"
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-p", PLUGIN_MODULE)
KILL_GRACE_S = 5.0
log = logging.getLogger(__name__)
UNPRIVILEGED_USER = "nobody"
OUTPUT_TAIL = 4000
FAILURE_TEXT = 2000
COPY_IGNORE = shutil.ignore_patterns(
    "data", "__pycache__", ".pytest_cache", ".ruff_cache", "*.db", ".git", ".venv", "node_modules"
)
# Runs' scratch folders go to memory when there is room: the tests under test commit to SQLite files
# there, and on a disk each commit waits for a flush (about 15% of a run's time on this kind of machine).
# A container's /dev/shm (64 MiB by default) is too small for several runs at once: the temp folder then.
MEMORY_SCRATCH = Path("/dev/shm")
MIN_MEMORY_SCRATCH_BYTES = 1 << 30
# Bring the namespace's own loopback up so tests may use 127.0.0.1 among themselves; nothing else exists.
_NETNS_SHELL = 'ip link set lo up 2>/dev/null || true; exec "$@"'


class Sandbox(Protocol):
    def run_tests(self, service_dir: Path) -> SandboxResult: ...


@functools.cache
def network_namespace_available() -> bool:
    """True when `unshare -n` works here (as root, or where unprivileged user namespaces are allowed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        return subprocess.run([*_unshare(), "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def scratch_parent() -> str | None:
    """Where a run's scratch folder is made: /dev/shm when it is writable with room to spare, else None
    (the system's temp folder)."""
    try:
        free = os.statvfs(MEMORY_SCRATCH)
    except OSError:
        return None
    roomy = free.f_bavail * free.f_frsize >= MIN_MEMORY_SCRATCH_BYTES
    return str(MEMORY_SCRATCH) if roomy and os.access(MEMORY_SCRATCH, os.W_OK | os.X_OK) else None


class ProcessSandbox:
    """Runs `python -m pytest` for a service folder with the given interpreter (a venv's)."""

    def __init__(
        self,
        python: Path,
        *,
        limits: SandboxLimits | None = None,
        isolate_network: bool = True,
        warm: bool = False,
    ) -> None:
        """`warm`: fork each run from a zygote of this venv (`pipeline.sandbox.forkserver`), started as a
        cold run starts: the same limits, user and loopback-only network, without importing it all again."""
        self.python = python.absolute()  # not resolve(): the venv's python is a symlink out of the venv
        self.limits = limits or SandboxLimits()
        self.warm = warm
        self.isolation = (
            Isolation.NETWORK_NAMESPACE
            if isolate_network and network_namespace_available()
            else Isolation.NONE
        )

    def run_tests(self, service_dir: Path) -> SandboxResult:
        with tempfile.TemporaryDirectory(prefix="intentops-sandbox-", dir=scratch_parent()) as scratch:
            root = Path(scratch)
            work = root / "service"
            # Links stay links: a link in the folder must not copy the file it points at into the run.
            shutil.copytree(service_dir, work, ignore=COPY_IGNORE, symlinks=True)
            (root / "tmp").mkdir()
            user = _drop_to(self.python)
            if user is not None:
                _chown_tree(root, user.pw_uid, user.pw_gid)
            channel = Channel(root / "channel")
            started = time.monotonic()
            timed_out, output, returncode = self._execute(work, root, user, channel)
            duration = time.monotonic() - started
            name = user.pw_name if user else _current_user()
            report = read_channel(channel.finish(), channel.token, returncode, timed_out)
            return result_from_channel(report, output, duration, timed_out, self.isolation, name)

    def _command(self, root: Path, user: pwd.struct_passwd | None) -> list[str]:
        return self._isolated([str(self.python), "-m", "pytest", *PYTEST_ARGS], user)

    def _isolated(self, command: list[str], user: pwd.struct_passwd | None) -> list[str]:
        """`command` run as `user` in a network namespace of its own, as this sandbox's isolation says."""
        if user is not None:
            # Dropped after the namespace is made (that needs root), right before pytest starts.
            ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
            command = ["setpriv", *ids, *command]
        if self.isolation is Isolation.NETWORK_NAMESPACE:
            command = [*_unshare(), "--", "sh", "-c", _NETNS_SHELL, "sh", *command]
        return command

    def _execute(
        self, work: Path, root: Path, user: pwd.struct_passwd | None, channel: Channel
    ) -> tuple[bool, str, int | None]:
        env = {
            **channel.environment(),
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(root),
            "TMPDIR": str(root / "tmp"),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
        server = self._server(user) if self.warm else None
        if server is not None:
            try:
                return self._execute_warm(server, work, user, channel, env)
            except ForkServerError as exc:
                log.warning("sandbox: %s; running cold", exc)
        try:
            process = subprocess.Popen(
                self._command(root, user),
                cwd=work,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
                preexec_fn=_limiter(self.limits),
                pass_fds=channel.child_fds,
            )
        finally:
            channel.started()  # the child holds its ends (or never will): ours close either way
        try:
            output, _ = process.communicate(timeout=self.limits.timeout_s)
            return False, output, process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return True, output, None

    def _server(self, user: pwd.struct_passwd | None) -> ForkServer | None:
        ids = (user.pw_uid, user.pw_gid) if user is not None else None
        return server_for(self._isolated([str(self.python)], user), user=ids)

    def _execute_warm(
        self,
        server: ForkServer,
        work: Path,
        user: pwd.struct_passwd | None,
        channel: Channel,
        env: dict[str, str],
    ) -> tuple[bool, str, int | None]:
        request = {
            "cwd": str(work),
            "args": list(PYTEST_ARGS),
            "env": env,
            "path": [str(channel.plugin_dir)],
            "limits": _rlimits(self.limits),
        }
        output_read, output_write = os.pipe()
        try:
            spawned = server.spawn(request, fds=(output_write, *channel.child_fds))
        except ForkServerError:
            os.close(output_read)
            raise
        finally:
            os.close(output_write)
        channel.started()
        chunks: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(output_read, chunks), daemon=True)
        reader.start()
        returncode = spawned.wait(self.limits.timeout_s)
        timed_out = returncode is None
        if timed_out:
            spawned.kill()
            returncode = spawned.wait(KILL_GRACE_S)
        reader.join(timeout=KILL_GRACE_S)
        output = b"".join(chunks).decode("utf-8", errors="replace")
        return timed_out, output, None if timed_out else returncode


def _drain(fd: int, chunks: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as stream:
        while chunk := stream.read1(65536):
            chunks.append(chunk)


def _rlimits(limits: SandboxLimits) -> dict[str, tuple[int, int]]:
    """The run's resource limits by name; inherited by everything the run starts."""
    memory = limits.memory_mb * 1024 * 1024
    file_size = limits.max_file_mb * 1024 * 1024
    return {
        "RLIMIT_AS": (memory, memory),
        "RLIMIT_FSIZE": (file_size, file_size),
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_NPROC": (limits.max_processes, limits.max_processes),
    }


def _drop_to(python: Path) -> pwd.struct_passwd | None:
    """The unprivileged user to run as, when we are root (tests never need root) and it can use the venv."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not _reachable_by_others(python.parent.parent):
        return None
    try:
        return pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        return None


def _reachable_by_others(venv: Path) -> bool:
    """Whether every folder down to the venv lets other users through (a venv under a 0700 dir does not)."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in [venv, *venv.parents])


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def _limiter(limits: SandboxLimits) -> Callable[[], None]:
    named = _rlimits(limits)

    def apply() -> None:  # runs in the child between fork and exec; inherited by everything it starts
        for name, values in named.items():
            resource.setrlimit(getattr(resource, name), values)

    return apply


def _unshare() -> list[str]:
    # As root a plain network namespace; otherwise one inside a user namespace of our own.
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]


def result_from(
    report: Path, output: str, duration: float, timed_out: bool, isolation: Isolation, user: str
) -> SandboxResult:
    """The structured result of a run, from its JUnit report (and its output when pytest never started)."""
    counts, failures = read_report(report)
    if not report.is_file() and not timed_out:
        # pytest could not even start (collection crash, broken venv): one error with its output.
        failures = [TestFailure(test="(session)", message=output[-FAILURE_TEXT:])]
        counts["errors"] = max(counts["errors"], 1)
    return _result(counts, failures, output, duration, timed_out, isolation, user)


def result_from_channel(
    report: ChannelReport, output: str, duration: float, timed_out: bool, isolation: Isolation, user: str
) -> SandboxResult:
    """The structured result of a run, from what pytest reported over the sandbox's channel."""
    counts, failures = dict(report.counts), list(report.failures)
    if not report.reported and not timed_out:
        # pytest could not even start (collection crash, broken venv): one error with its output.
        failures.append(TestFailure(test="(session)", message=output[-FAILURE_TEXT:]))
        counts["errors"] += 1
    failures += [TestFailure(test="(sandbox)", message=problem) for problem in report.problems]
    counts["errors"] += len(report.problems)
    return _result(counts, failures, output, duration, timed_out, isolation, user)


def _result(
    counts: dict[str, int],
    failures: list[TestFailure],
    output: str,
    duration: float,
    timed_out: bool,
    isolation: Isolation,
    user: str,
) -> SandboxResult:
    return SandboxResult(
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["errors"],
        skipped=counts["skipped"],
        duration_s=duration,
        isolation=isolation,
        user=user,
        timed_out=timed_out,
        failures=tuple(failures),
        output=output[-OUTPUT_TAIL:],
    )


def read_report(report: Path) -> tuple[dict[str, int], list[TestFailure]]:
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[TestFailure] = []
    if not report.is_file():
        return counts, failures
    try:
        tree = ElementTree.parse(report)
    except ElementTree.ParseError as exc:
        return {**counts, "errors": 1}, [TestFailure("(report)", f"unreadable JUnit report: {exc}")]
    for case in tree.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = next((child for child in case if child.tag in {"failure", "error", "skipped"}), None)
        if outcome is None:
            counts["passed"] += 1
            continue
        key = {"failure": "failed", "error": "errors", "skipped": "skipped"}[outcome.tag]
        counts[key] += 1
        text = (outcome.get("message") or "") + "\n" + (outcome.text or "")
        failures.append(TestFailure(test=name, message=text.strip()[-FAILURE_TEXT:]))
    return counts, failures


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def sandbox_for(
    service_dir: Path,
    *,
    wheelhouse: Path,
    cache_dir: Path,
    limits: SandboxLimits | None = None,
    warm: bool = True,
) -> ProcessSandbox:
    """A sandbox whose venv holds the service's `requirements-test.txt`, built offline (and cached); its
    runs fork from the venv's zygote (`warm`) where they can."""
    requirements = (service_dir / "requirements-test.txt").read_text(encoding="utf-8")
    venv = cached_venv(requirements, wheelhouse=wheelhouse, cache_dir=cache_dir)
    return ProcessSandbox(venv_python(venv), limits=limits, warm=warm)
