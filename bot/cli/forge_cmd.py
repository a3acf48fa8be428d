"""`intentops forge ...`: `forge serve` starts the embedded forge; the forge's own administration commands
(forge/cli.py: users, tokens, repos, hooks) are mounted beside it.

A composition root (tests/test_layout.py names it): the one module of the bot's CLI besides `bot/cli/stack.py`
that imports the forge. `forge serve` starts the forge with the start-up check every long-running command
makes on its data directory (bot/cli/datamodes.py); nothing else of the bot touches the forge in-process.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from bot.cli.datamodes import check_data_dir
from bot.cli.output import err, fail
from forge.cli import DataDirOption, repo_app, user_app
from forge.server import ForgeServer
from forge.settings import ForgeSettings

SERVING = "forge: serving {url} (REST at {url}/api/v3, git at {url}/OWNER/REPO.git); data in {data}"
CANNOT_LISTEN = "cannot listen on {host}:{port}: {reason}"

forge_app = typer.Typer(help="The embedded GitHub-compatible forge.", no_args_is_help=True)
forge_app.add_typer(user_app, name="user")
forge_app.add_typer(repo_app, name="repo")


@forge_app.command()
def serve(
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default $INTENTOPS_FORGE_PORT or 3000; 0: any free)")
    ] = None,
) -> None:
    """Serve the forge until interrupted."""
    settings = ForgeSettings()
    directory = data_dir or settings.data_dir
    check_data_dir(directory)
    try:
        server = ForgeServer(
            directory,
            host or settings.host,
            settings.port if port is None else port,
            max_api_body_bytes=settings.max_api_body_bytes,
            hook_timeout_s=settings.hook_timeout_s,
        )
    except OSError as exc:
        fail(
            CANNOT_LISTEN.format(host=host or settings.host, port=port or settings.port, reason=exc.strerror)
        )
    err.print(SERVING.format(url=server.url, data=escape(str(directory))))
    server.serve_forever()


def register(app: typer.Typer) -> None:
    app.add_typer(forge_app, name="forge")
