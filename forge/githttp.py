"""Git smart HTTP (clone, fetch, push; protocol v0 and v2) through the real `git http-backend`.

Request bodies stream into git, and clone/fetch packs stream out. Pushes to one repository are
serialized so the refs read before and after `receive-pack` describe exactly that push; the `push`
webhook is built from the difference.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from forge.api.deps import authenticate, get_forge
from forge.core import Forge, Perm
from forge.errors import ForgeError
from forge.git import git_path
from forge.models import Repo, User
from forge.push import record_push

router = APIRouter()

SERVICES = {"git-upload-pack": Perm.READ, "git-receive-pack": Perm.WRITE}
CHUNK = 64 * 1024
AUTH_CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitHub"'}
MSG_NOT_FOUND = "Repository not found.\n"
MSG_DENIED = "Permission to {full} denied to {login}.\n"
MSG_AUTH = "Authentication required.\n"


@dataclass(frozen=True)
class GitTarget:
    repo_id: int
    path_info: str
    user: User | None
    service: str
    protected: tuple[str, ...] = ()


def _service(request: Request, rest: str) -> str | None:
    if rest == "info/refs":
        return request.query_params.get("service")
    return rest if rest in SERVICES else None


def _authorize(forge: Forge, request: Request, owner: str, name: str, rest: str) -> GitTarget | Response:
    service = _service(request, rest)
    if service not in SERVICES:
        return PlainTextResponse("Not Found\n", status_code=404)
    need = SERVICES[service]
    with forge.db.session() as session:
        try:
            user = authenticate(forge, session, request.headers.get("authorization"))
        except ForgeError:
            return PlainTextResponse(MSG_AUTH, status_code=401, headers=AUTH_CHALLENGE)
        repo: Repo | None = forge.find_repo(session, owner, name)
        have = forge.permission(session, user, repo) if repo else Perm.NONE
        if user is None and (repo is None or have < need):
            return PlainTextResponse(MSG_AUTH, status_code=401, headers=AUTH_CHALLENGE)
        if repo is None or have < Perm.READ:
            return PlainTextResponse(MSG_NOT_FOUND, status_code=404)
        if have < need:
            assert user is not None
            full = f"{owner}/{repo.name}"
            return PlainTextResponse(MSG_DENIED.format(full=full, login=user.login), status_code=403)
        path_info = f"/{owner}/{repo.name}.git/{rest}"
        protected: tuple[str, ...] = ()
        if service == "git-receive-pack":
            forge.bare(session, repo).install_hooks()
            protected = tuple(forge.push_protected(session, repo, user))
        return GitTarget(repo.id, path_info, user, service, protected)


def _cgi_env(forge: Forge, request: Request, target: GitTarget) -> dict[str, str]:
    env = {
        "PATH": git_path(),
        "GIT_PROJECT_ROOT": str(forge.repos_dir.resolve()),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH_INFO": target.path_info,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "REMOTE_ADDR": request.client.host if request.client else "127.0.0.1",
        "REMOTE_USER": target.user.login if target.user else "",
        "FORGE_PROTECTED": " ".join(target.protected),
    }
    for header, variable in (
        ("content-length", "CONTENT_LENGTH"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ):
        if header in request.headers:
            env[variable] = request.headers[header]
    return env


async def _feed(request: Request, process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    try:
        async for chunk in request.stream():
            process.stdin.write(chunk)
            await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        process.stdin.close()


def _parse_cgi(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and start of the body of a CGI response."""
    sep = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    head, _, rest = raw.partition(sep)
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers[key.strip()] = value.strip()
    return status, headers, rest


async def _read_headers(stdout: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    raw = b""
    while b"\r\n\r\n" not in raw and b"\n\n" not in raw:
        chunk = await stdout.read(CHUNK)
        if not chunk:
            break
        raw += chunk
    return _parse_cgi(raw)


async def _spawn(forge: Forge, request: Request, target: GitTarget) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=_cgi_env(forge, request, target),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


@router.api_route("/{owner}/{name}/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def git_http(request: Request, owner: str, name: str, rest: str) -> Response:
    forge = get_forge(request)
    target = await anyio.to_thread.run_sync(_authorize, forge, request, owner, name, rest)
    if isinstance(target, Response):
        return target
    if target.service == "git-receive-pack" and rest == "git-receive-pack":
        return await _push(forge, request, target)
    return await _stream(forge, request, target)


async def _push(forge: Forge, request: Request, target: GitTarget) -> Response:
    """One push at a time per repository; its answer (a short status report) is sent once recorded, so the
    lock is released on every path, a client that goes away included."""
    assert target.user is not None
    lock = forge.repo_lock(target.repo_id)
    await anyio.to_thread.run_sync(lock.acquire)
    process: asyncio.subprocess.Process | None = None
    try:
        before = await anyio.to_thread.run_sync(_refs, forge, target.repo_id)
        process = await _spawn(forge, request, target)
        feeder = asyncio.create_task(_feed(request, process))
        assert process.stdout is not None
        output = await process.stdout.read()
        await process.wait()
        await feeder
        after = await anyio.to_thread.run_sync(_refs, forge, target.repo_id)
        await anyio.to_thread.run_sync(record_push, forge, target.repo_id, target.user.id, before, after)
    finally:
        if process is not None:
            _kill(process)
        lock.release()
    status, headers, body = _parse_cgi(output)
    return Response(body, status_code=status, headers=headers)


async def _stream(forge: Forge, request: Request, target: GitTarget) -> Response:
    """Ref advertisements, clones and fetches: the pack streams to the client as git writes it."""
    process = await _spawn(forge, request, target)
    feeder = asyncio.create_task(_feed(request, process))
    assert process.stdout is not None
    status, headers, first = await _read_headers(process.stdout)

    async def body() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            assert process.stdout is not None
            while chunk := await process.stdout.read(CHUNK):
                yield chunk
            await process.wait()
            await feeder
        finally:
            _kill(process)

    # After the response, stop a git process still running (a client that stopped reading, for one).
    return StreamingResponse(
        body(), status_code=status, headers=headers, background=BackgroundTask(_kill, process)
    )


def _refs(forge: Forge, repo_id: int) -> dict[str, str]:
    with forge.db.session() as session:
        repo = session.get(Repo, repo_id)
        assert repo is not None
        return forge.bare(session, repo).refs()
