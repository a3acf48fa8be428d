"""The generated services' dependencies: pinned from requirements.lock, kept in a local wheelhouse, installed
offline into cached virtual environments.

`prepare_wheelhouse` runs at set-up time (network allowed then). Everything after it is offline:
`cached_venv` builds (once per requirements set) a venv from the wheelhouse with `--no-index`, and the
Dockerfiles of generated services install from the same wheelhouse. Deployers reuse both functions.

A stage service (`pipeline.factory.stageservice`) also needs the line's own code: the stage kit
(`pipeline.stagekit`), a wheel the line builds into the wheelhouse itself, and the third-party packages
its built-in stages import (STAGE_RUNTIME and what they pull in), downloaded with the rest at set-up.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.resources import resource
from pipeline.stagekit import StageKit, StageKitError, ensure_kits, stage_kit

SERVICE_RUNTIME = ("fastapi", "uvicorn", "pydantic", "httpx", "prometheus-client")
SERVICE_TEST = ("pytest", "httpx2")
"""httpx2: what starlette's TestClient uses from now on (plain httpx there is deprecated)."""
STAGE_RUNTIME = ("jinja2", "ruamel-yaml", "cel-python")
"""What a stage service imports beyond a generated service's runtime: `pipeline.factory.builtin`'s
third-party imports (pydantic is already in SERVICE_RUNTIME); the stage kit's wheel names them too."""
STAMP = ".intentops-wheelhouse"
READY = ".intentops-ready"
INSTALL_TIMEOUT_S = 600
VENV_LAYOUT = "2"
"""Part of a venv's cache key; raised when the way venvs are built changes (2: bytecode precompiled)."""

_ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")
_VIA = re.compile(r"^\s*#\s+(?:via\s+)?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\s|$)")


class WheelhouseError(RuntimeError):
    """The wheelhouse or a venv could not be prepared; the message says which command failed and why."""


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    hashes: tuple[str, ...]
    marker: str
    parents: frozenset[str]

    def requirement_line(self) -> str:
        marker = f" ; {self.marker}" if self.marker else ""
        hashes = "".join(f" \\\n    --hash={h}" for h in self.hashes)
        return f"{self.name}=={self.version}{marker}{hashes}"


def default_lock_path() -> Path:
    return resource("requirements.lock")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class _Entry:
    name: str
    version: str
    marker: str
    hashes: list[str] = field(default_factory=list)
    parents: set[str] = field(default_factory=set)

    def freeze(self) -> LockedPackage:
        return LockedPackage(
            self.name, self.version, tuple(self.hashes), self.marker, frozenset(self.parents)
        )


def read_lock(path: Path) -> dict[str, LockedPackage]:
    """Parse a `uv pip compile --generate-hashes` lock: versions, hashes, markers and `# via` parents."""
    entries: list[_Entry] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = _ENTRY.match(line)
        if entry:
            entries.append(_Entry(entry["name"], entry["version"], (entry["marker"] or "").strip()))
        elif entries:
            entries[-1].hashes.extend(_HASH.findall(line))
            via = _VIA.match(line)
            if via and "(pyproject.toml)" not in line:
                entries[-1].parents.add(normalize(via["name"]))
    return {normalize(e.name): e.freeze() for e in entries}


def closure(lock: dict[str, LockedPackage], roots: Sequence[str]) -> list[LockedPackage]:
    """The roots and everything the lock says they pull in, sorted by name."""
    wanted = {normalize(r) for r in roots}
    missing = wanted - lock.keys()
    if missing:
        raise WheelhouseError(f"requirements.lock does not pin {', '.join(sorted(missing))}")
    changed = True
    while changed:
        added = {name for name, p in lock.items() if name not in wanted and p.parents & wanted}
        wanted |= added
        changed = bool(added)
    return sorted((lock[name] for name in wanted), key=lambda p: normalize(p.name))


REQUIREMENTS_HEADER = (
    "# Pinned from IntentOps' requirements.lock; install with --no-index --find-links <wheelhouse>.\n"
)


def service_requirements(*, with_tests: bool = False, lock_path: Path | None = None) -> str:
    """The pinned, hashed requirements file of a generated service (runtime, or runtime + tests)."""
    roots = (*SERVICE_RUNTIME, *SERVICE_TEST) if with_tests else SERVICE_RUNTIME
    packages = closure(read_lock(lock_path or default_lock_path()), roots)
    return REQUIREMENTS_HEADER + "\n".join(p.requirement_line() for p in packages) + "\n"


def stage_requirements(kit: StageKit, *, with_tests: bool = False, lock_path: Path | None = None) -> str:
    """The requirements file of a stage service: a generated service's, what the line's built-in stages
    import, and the stage kit, pinned by version and hash."""
    roots = (*SERVICE_RUNTIME, *STAGE_RUNTIME, *(SERVICE_TEST if with_tests else ()))
    packages = closure(read_lock(lock_path or default_lock_path()), roots)
    lines = [p.requirement_line() for p in packages] + [kit.requirement_line()]
    return REQUIREMENTS_HEADER + "\n".join(lines) + "\n"


def _downloaded(lock_path: Path | None) -> str:
    """Every third-party package a generated or stage service (or their tests) installs."""
    roots = (*SERVICE_RUNTIME, *SERVICE_TEST, *STAGE_RUNTIME)
    packages = closure(read_lock(lock_path or default_lock_path()), roots)
    return REQUIREMENTS_HEADER + "\n".join(p.requirement_line() for p in packages) + "\n"


def _digest(text: str) -> str:
    return hashlib.sha256(f"{sys.version_info[:2]}\n{text}".encode()).hexdigest()[:16]


def prepare_wheelhouse(
    directory: Path, *, lock_path: Path | None = None, python: str = sys.executable
) -> bool:
    """Download the services' wheels into `directory` (network needed), and put the stage kit of the line's
    sources beside them. Returns False when the downloads were already there."""
    requirements = _downloaded(lock_path)
    stamp = directory / STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == _digest(requirements):
        stage_kit().write(directory)
        return False
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / f"{directory.name}.lock"):
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == _digest(requirements):
            return False
        listing = directory / "requirements.txt"
        listing.write_text(requirements, encoding="utf-8")
        _run(
            [
                python,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--only-binary=:all:",
                "--no-deps",
                "--require-hashes",
                "-r",
                str(listing),
                "-d",
                str(directory),
            ],
            what="downloading the wheelhouse",
        )
        stamp.write_text(_digest(requirements), encoding="utf-8")
    stage_kit().write(directory)
    return True


def wheelhouse_ready(directory: Path, *, lock_path: Path | None = None) -> bool:
    stamp = directory / STAMP
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == _digest(_downloaded(lock_path))


def cached_venv(
    requirements: str, *, wheelhouse: Path, cache_dir: Path, python: str = sys.executable
) -> Path:
    """A venv holding exactly `requirements`, installed offline from `wheelhouse`; built once per content.

    Returns the venv directory (its interpreter is `<dir>/bin/python`). Safe to call from several
    processes at once: builders take a file lock, and a venv counts only once its ready marker exists.
    A stage kit the requirements pin is built into the wheelhouse first (when these sources make it).
    """
    venv = cache_dir.absolute() / _digest(f"{VENV_LAYOUT}\n{requirements}")
    if (venv / READY).is_file():
        return venv
    if not (wheelhouse / STAMP).is_file():
        raise WheelhouseError(
            f"no wheelhouse at {wheelhouse}; run ./scripts/wheelhouse.sh (needs the network once)"
        )
    try:
        ensure_kits(requirements, wheelhouse)
    except StageKitError as exc:
        raise WheelhouseError(str(exc)) from None
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f"{venv.name}.lock"):
        if (venv / READY).is_file():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        listing = cache_dir / f"{venv.name}.requirements.txt"
        listing.write_text(requirements, encoding="utf-8")
        _install(venv, listing, wheelhouse, python)
        (venv / READY).write_text(requirements, encoding="utf-8")
    return venv


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _install(venv: Path, listing: Path, wheelhouse: Path, python: str) -> None:
    uv = shutil.which("uv") or str(Path(python).parent / "uv")
    offline = ["--no-index", "--find-links", str(wheelhouse), "--require-hashes", "-r", str(listing)]
    if Path(uv).is_file():
        # uv builds the same venv as pip in a fraction of the time; pip stays the fallback.
        _run([uv, "venv", "--quiet", "--python", python, str(venv)], what="creating a venv")
        _run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--offline",
                "--compile-bytecode",
                "--python",
                str(venv_python(venv)),
                *offline,
            ],
            what="installing from the wheelhouse",
        )
        return
    _run([python, "-m", "venv", str(venv)], what="creating a venv")
    _run(
        [str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *offline],
        what="installing from the wheelhouse",
    )


def _run(command: list[str], *, what: str) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WheelhouseError(f"{what} failed: {exc}") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise WheelhouseError(f"{what} failed (exit {result.returncode}): {' / '.join(detail)}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
