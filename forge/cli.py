"""The forge's administration commands: users and tokens, repositories, collaborators, protection, hooks.

They work on the forge's data directory directly, whether or not a server is running (SQLite in WAL mode
lets both share it). `intentops forge` mounts them beside `forge serve` (bot/cli/forge_cmd.py); they import
nothing of the bot or the pipeline, like the rest of the forge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from forge.admin import DeliveryRecord, ForgeAdmin
from forge.core import Forge
from forge.errors import ForgeError
from forge.server import recorded_url
from forge.settings import ForgeSettings

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Forge data directory (default: $INTENTOPS_FORGE_DIR or .data/forge)"),
]
TOKEN_NOTE = "keep this token: it is shown once and only its digest is stored"
URL_FROM_SETTINGS = (
    "no server is serving this data directory now: the URL uses INTENTOPS_FORGE_HOST and"
    " INTENTOPS_FORGE_PORT (defaults 127.0.0.1 and 3000)"
)
# An admin command waits this long at most for a webhook receiver to answer the ping (the hook is saved
# whatever the answer; the server delivers later events with its own timeout).
ADMIN_HOOK_TIMEOUT_S = 2.0
PING_ANSWERED = "ping: {code} {status}"
PING_KEPT = "the hook is saved; redeliver the ping from its delivery log"
PING_SILENT = "ping: no answer within {seconds:g} s; " + PING_KEPT
PING_UNDELIVERED = "ping: not delivered ({status}); " + PING_KEPT
ERROR_LINE = "[red]error:[/red] {message}"

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

user_app = typer.Typer(help="Users and their tokens.", no_args_is_help=True)
repo_app = typer.Typer(help="Repositories, collaborators, branch protection, webhooks.", no_args_is_help=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one clear line on stderr and exit."""
    err.print(ERROR_LINE.format(message=message), markup=True)
    raise typer.Exit(code)


def describe(exc: ForgeError) -> str:
    """One line: GitHub's message plus the field errors' own messages."""
    details = [
        e.get("message") or f"{e.get('field')}: {e.get('code')}"
        for e in exc.errors or []
        if isinstance(e, dict)
    ]
    return "; ".join([exc.message, *details]) if details else exc.message


def server_url(directory: Path, settings: ForgeSettings) -> str:
    """The URL of the server serving `directory`, else the one the settings give."""
    return recorded_url(directory) or f"http://{settings.host}:{settings.port}"


@contextmanager
def admin(data_dir: Path | None) -> Iterator[ForgeAdmin]:
    settings = ForgeSettings()
    directory = data_dir or settings.data_dir
    forge = Forge(
        directory,
        base_url=server_url(directory, settings),
        hook_timeout_s=min(settings.hook_timeout_s, ADMIN_HOOK_TIMEOUT_S),
    )
    try:
        yield ForgeAdmin(forge)
    except ForgeError as exc:
        fail(describe(exc))
    finally:
        forge.close()


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="The user's login")],
    is_admin: Annotated[
        bool, typer.Option("--admin", help="A site administrator (admin on every repository)")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Create a user and print a first token."""
    with admin(data_dir) as forge_admin:
        account = forge_admin.create_user(login, admin=is_admin)
    out.print(account.token)
    err.print(TOKEN_NOTE)


@user_app.command("token")
def user_token(
    login: Annotated[str, typer.Argument(help="The user's login")], data_dir: DataDirOption = None
) -> None:
    """Print a new token for an existing user."""
    with admin(data_dir) as forge_admin:
        token = forge_admin.issue_token(login)
    out.print(token)
    err.print(TOKEN_NOTE)


@repo_app.command("create")
def repo_create(
    full_name: Annotated[str, typer.Argument(help="OWNER/NAME (the owner must exist)")],
    public: Annotated[bool, typer.Option("--public", help="Readable without a token")] = False,
    description: Annotated[str | None, typer.Option(help="A one-line description")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a repository with a first commit on main; print its clone URL."""
    with admin(data_dir) as forge_admin:
        info = forge_admin.create_repo(full_name, private=not public, description=description)
    out.print(info.clone_url)
    if recorded_url(data_dir or ForgeSettings().data_dir) is None:
        err.print(URL_FROM_SETTINGS)


@repo_app.command("collaborator")
def repo_collaborator(
    full_name: Annotated[str, typer.Argument(help="OWNER/NAME")],
    login: Annotated[str, typer.Argument(help="The collaborator's login")],
    permission: Annotated[str, typer.Option(help="read, triage, write, maintain or admin")] = "write",
    data_dir: DataDirOption = None,
) -> None:
    """Add a collaborator (or change their permission)."""
    with admin(data_dir) as forge_admin:
        forge_admin.add_collaborator(full_name, login, permission)
    out.print(f"{escape(login)} has {escape(permission)} on {escape(full_name)}")


@repo_app.command("protect")
def repo_protect(
    full_name: Annotated[str, typer.Argument(help="OWNER/NAME")],
    branch: Annotated[str, typer.Option(help="Branch to protect")] = "main",
    approvals: Annotated[int, typer.Option(help="Required approving reviews")] = 1,
    context: Annotated[list[str] | None, typer.Option(help="A required status context (repeatable)")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Require approving reviews and status contexts before a PR may merge into a branch."""
    if approvals < 0:
        fail("--approvals must be 0 or more")
    with admin(data_dir) as forge_admin:
        forge_admin.protect_branch(
            full_name, branch, required_approvals=approvals, required_contexts=context or []
        )
    out.print(f"{escape(full_name)}:{escape(branch)} needs {approvals} approval(s), contexts {context or []}")


@repo_app.command("hook")
def repo_hook(
    full_name: Annotated[str, typer.Argument(help="OWNER/NAME")],
    url: Annotated[str, typer.Argument(help="Where to POST deliveries")],
    secret: Annotated[str | None, typer.Option(envvar="INTENTOPS_WEBHOOK_SECRET", help="HMAC secret")] = None,
    event: Annotated[
        list[str] | None, typer.Option(help="An event to send (repeatable; default all)")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add a webhook; GitHub's ping is sent to it at once."""
    if not url.startswith(("http://", "https://")):
        fail(f"webhook URL must start with http:// or https://, got {url!r}")
    with admin(data_dir) as forge_admin:
        hook_id = forge_admin.add_webhook(full_name, url, secret=secret, events_=event or ["*"])
        forge_admin.finish_deliveries()
        ping = [d for d in forge_admin.deliveries(full_name) if d.hook_id == hook_id]
        timeout_s = forge_admin.forge.hooks.timeout_s
    out.print(f"hook {hook_id} on {escape(full_name)} -> {escape(url)}")
    if ping:
        err.print(escape(ping_outcome(ping[-1], timeout_s)))


def ping_outcome(delivery: DeliveryRecord, timeout_s: float) -> str:
    if delivery.status_code:
        return PING_ANSWERED.format(code=delivery.status_code, status=delivery.status)
    if "Timeout" in delivery.status:
        return PING_SILENT.format(seconds=timeout_s)
    return PING_UNDELIVERED.format(status=delivery.status or "no outcome yet")
