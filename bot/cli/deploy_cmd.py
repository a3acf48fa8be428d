"""`intentops deploy`, `undeploy`, `services`, `reconcile`, `registry serve` and `docker base-image`."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from docker.errors import DockerException
from rich.markup import escape
from rich.table import Column, Table

from bot.cli.datamodes import check_data_dir
from bot.cli.output import FormatOption, OutputFormat, err, fail, out, print_json
from bot.deploying import deploy_setup
from bot.registry_api import create_registry_app
from bot.settings import Settings
from pipeline.deploy import Backend, Deployer, DeployOutcome, DeployRequest, UndeployOutcome
from pipeline.deploy.bridge import listen
from pipeline.deploy.locks import InvalidServiceName, check_service_name
from pipeline.deploy.reconcile import FIXABLE, desired_from_checkout, reconcile
from pipeline.deploy.swarm import SwarmUnavailable
from pipeline.deploy.wiring import build_deployer
from pipeline.manifest import MANIFEST_FILE, ServiceManifest
from pipeline.registry import Provenance, RegistryEntry, RegistryStore, load_or_create_token
from pipeline.resources import resource_path
from pipeline.state import Database

DOCKER_SCRIPT = resource_path("scripts/docker.sh")
NO_DOCKER = "no Docker engine answers ({error}); install and start one with `intentops docker base-image`"
PORT_TAKEN = "cannot listen on {host}:{port}: {error}"
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
SCRIPT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What scripts/docker.sh may need from the caller's environment: mirrors, caches, the engine, proxies.
SCRIPT_PASSTHROUGH = ("DEBIAN_MIRROR", "INTENTOPS_DOCKER_CACHE", "DOCKER_HOST")
PROXY_SUFFIX = "_proxy"
SHORT = 12
TOKEN_NOTE = "registry token: {where} (services get it as REGISTRY_TOKEN)"
BRIDGE_NOTE = "also listening on the Docker bridge at {address}, for containers"

BackendOption = Annotated[
    Backend | None,
    typer.Option(
        "--backend", help="local processes, Docker or Docker Swarm (default: INTENTOPS_DEPLOY_BACKEND)"
    ),
]


@dataclass
class Context:
    settings: Settings
    db: Database
    registry: RegistryStore


@contextmanager
def _context() -> Iterator[Context]:
    settings = Settings()
    db = Database(settings.state_database_url())
    try:
        db.create_all()
        ttl = timedelta(seconds=settings.registry_ttl_seconds)
        yield Context(settings, db, RegistryStore(db, ttl=ttl))
    finally:
        db.dispose()


def _deployer(context: Context, backend: Backend | None) -> Deployer:
    settings = context.settings
    setup = deploy_setup(settings, data_dir=settings.data_dir, registry_url=settings.registry_url)
    chosen = backend or Backend(settings.deploy_backend)
    try:
        return build_deployer(chosen, setup, context.db, context.registry)
    except SwarmUnavailable as exc:  # an engine answers, but manages no swarm
        fail(str(exc))
    except DockerException as exc:
        fail(NO_DOCKER.format(error=exc))


def deploy(
    service_dir: Annotated[Path, typer.Argument(help="A generated service folder (with service.yaml)")],
    backend: BackendOption = None,
    version: Annotated[str | None, typer.Option(help="Version to deploy (default: the manifest's)")] = None,
    pr: Annotated[int | None, typer.Option(help="Pull request number, for provenance")] = None,
    approver: Annotated[list[str] | None, typer.Option(help="Who approved (repeatable)")] = None,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Deploy a service blue/green: start the new version, check health, switch, stop the old one."""
    if not service_dir.is_dir():
        fail(f"{service_dir}: no such directory")
    with _context() as context:
        deployer = _deployer(context, backend)
        try:
            chosen = version or ServiceManifest.load(service_dir).version
        except (OSError, ValueError) as exc:
            fail(f"{service_dir / MANIFEST_FILE}: {str(exc).splitlines()[0]}")
        commit = chosen if COMMIT_SHA.fullmatch(chosen) else ""
        provenance = Provenance(commit_sha=commit, pr_number=pr, approvers=tuple(approver or ()))
        result = deployer.deploy(DeployRequest(service_dir, chosen, provenance))
    if output_format is OutputFormat.JSON:
        print_json(
            {
                "outcome": result.outcome,
                "name": result.name,
                "version": result.version,
                "url": result.url,
                "message": result.message,
                "log_tail": result.log_tail,
            }
        )
    elif result.ok:
        colour = "green" if result.outcome is DeployOutcome.DEPLOYED else "yellow"
        out.print(f"[{colour}]{result.outcome}[/{colour}] {escape(result.message)}")
    else:
        err.print(f"[red]failed[/red] {escape(result.message)}")
        if result.log_tail:
            err.print("last log lines:\n" + escape(result.log_tail.rstrip()))
    if not result.ok:
        raise typer.Exit(1)


def undeploy(
    name: Annotated[str, typer.Argument(help="Service name")],
    backend: BackendOption = None,
) -> None:
    """Stop and remove a service on whatever backend runs it, and deregister it. Undeploying what is not
    deployed does nothing."""
    try:
        check_service_name(name)
    except InvalidServiceName as exc:
        fail(str(exc))
    with _context() as context:
        result = _deployer(context, backend).undeploy(name)
    if not result.ok:
        err.print(f"[red]{result.outcome}[/red] {escape(result.message)}")
        raise typer.Exit(1)
    colour = "green" if result.outcome is UndeployOutcome.REMOVED else "yellow"
    out.print(f"[{colour}]{result.outcome}[/{colour}] {escape(result.message)}")


def services(output_format: FormatOption = OutputFormat.TEXT) -> None:
    """The registry: every service with its version, status, URL and provenance."""
    with _context() as context:
        entries = context.registry.entries()
    if output_format is OutputFormat.JSON:
        print_json([entry.model_dump(mode="json") for entry in entries])
        return
    if not entries:
        out.print("no services registered")
        return
    out.print(_services_table(entries))


def _services_table(entries: list[RegistryEntry]) -> Table:
    # Folded, never cut: a URL or a hash with an ellipsis in the middle is of no use.
    table = Table(
        Column("version", no_wrap=True, min_width=SHORT),
        "status",
        Column("url", overflow="fold"),
        "heartbeat",
        Column("provenance", overflow="fold"),
    )
    table.columns.insert(0, Column("name", no_wrap=True))
    colours = {"healthy": "green", "starting": "cyan", "unhealthy": "red", "gone": "dim"}
    for entry in entries:
        beat = entry.last_heartbeat.strftime("%H:%M:%S") if entry.last_heartbeat else "-"
        status = f"[{colours[entry.status]}]{entry.status}[/{colours[entry.status]}]"
        table.add_row(
            escape(entry.name),
            escape(entry.version[:12]),
            status,
            escape(entry.url),
            beat,
            escape(_provenance_text(entry.provenance)),
        )
    return table


def _provenance_text(provenance: Provenance) -> str:
    """One cell, an item a line: PR, approvers, intent, commit, spec hash and image digest (short forms)."""
    parts = [f"PR #{provenance.pr_number}"] if provenance.pr_number is not None else []
    if provenance.approvers:
        parts.append("approved by " + ", ".join(provenance.approvers))
    if provenance.intent_path:
        parts.append(provenance.intent_path)
    if provenance.commit_sha:
        parts.append(f"commit {provenance.commit_sha[:SHORT]}")
    if provenance.spec_hash:
        parts.append(f"spec {_short_hash(provenance.spec_hash)}")
    if provenance.image_digest:
        parts.append(f"image {_short_hash(provenance.image_digest)}")
    return "\n".join(parts) or "-"  # one item a line keeps the column narrow


def _short_hash(value: str) -> str:
    """`sha256:abc...` or `abc...` as its first hex digits, the way `docker images` shows ids."""
    return value.rpartition(":")[2][:SHORT]


def reconcile_command(
    checkout: Annotated[Path, typer.Argument(help="A checkout of the default branch (intents/, services/)")],
    version: Annotated[str, typer.Option(help="The checkout's commit SHA (the version to run)")],
    backend: BackendOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report drift, change nothing")] = False,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Adopt or restart recorded services, then bring the running set in line with the checkout's intents."""
    with _context() as context:
        deployer = _deployer(context, backend)
        recovered = [] if dry_run else deployer.recover()
        desired, problems = desired_from_checkout(checkout, version=version)
        report = reconcile(desired, deployer, apply=not dry_run)
    rows: list[dict[str, Any]] = [{"kind": r.action, "name": r.name, "detail": r.detail} for r in recovered]
    rows += [{"kind": d.kind, "name": d.name, "detail": d.detail} for d in [*report.drift, *problems]]
    rows += [{"kind": "result", "name": r.name, "detail": r.message} for r in report.results]
    if output_format is OutputFormat.JSON:
        print_json({"in_sync": report.in_sync, "ok": report.ok, "items": rows})
    else:
        for row in rows:
            out.print(f"{row['kind']:<10} {escape(row['name'])}: {escape(row['detail'])}")
        fixable = sum(1 for d in report.drift if d.kind in FIXABLE)
        out.print("in sync" if report.in_sync else f"{fixable} drifted service(s)")
    if not report.ok or (dry_run and not report.in_sync):
        raise typer.Exit(1)


registry_app = typer.Typer(help="The service registry (seed port 8000).", no_args_is_help=True)
docker_app = typer.Typer(
    help="The Docker engine and base image for the Docker backend.", no_args_is_help=True
)


@registry_app.command("serve")
def registry_serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve the registry's HTTP API; every call needs `Authorization: Bearer <token>`."""
    import uvicorn

    check_data_dir(Settings().data_dir)
    with _context() as context:
        settings = context.settings
        token = load_or_create_token(settings.data_dir, settings.registry_token)
        try:
            listeners = listen(
                create_registry_app(context.registry, token, docs=settings.api_docs), host, port
            )
        except OSError as exc:
            fail(PORT_TAKEN.format(host=host, port=port, error=exc.strerror or exc))
        where = (
            "INTENTOPS_REGISTRY_TOKEN"
            if settings.registry_token
            else str(settings.data_dir / "registry-token")
        )
        err.print(TOKEN_NOTE.format(where=escape(where)))
        if listeners.gateway:
            err.print(BRIDGE_NOTE.format(address=f"{listeners.gateway}:{listeners.port}"))
        config = uvicorn.Config(listeners.app, host=host, port=listeners.port, log_level="info")
        uvicorn.Server(config).run(sockets=listeners.sockets)


@docker_app.command("base-image")
def docker_base_image() -> None:
    """Install and start Docker if needed, and build the base image (debootstrap + docker import) once."""
    settings = Settings()
    if not DOCKER_SCRIPT.is_file():
        fail(f"{DOCKER_SCRIPT} not found (run this from a checkout of IntentOps)")
    environment = {**_script_environment(os.environ), "INTENTOPS_BASE_IMAGE": settings.docker_base_image}
    done = subprocess.run([str(DOCKER_SCRIPT)], env=environment, check=False)
    if done.returncode != 0:
        fail(f"building the base image failed (exit {done.returncode})")
    out.print(f"[green]ready[/green] base image {escape(settings.docker_base_image)}")


def _script_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A clean environment for scripts/docker.sh, with the mirror, cache, engine and proxy settings kept."""
    kept = {
        key: value
        for key, value in environ.items()
        if key in SCRIPT_PASSTHROUGH or key.lower().endswith(PROXY_SUFFIX)
    }
    return {**kept, "PATH": SCRIPT_PATH}


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(undeploy)
    app.command()(services)
    app.command("reconcile")(reconcile_command)
    app.add_typer(registry_app, name="registry")
    app.add_typer(docker_app, name="docker")
