"""Entry point of `intentops`: builds the Typer app from the feature command modules.

Only the commands that start the forge import `bot`, `pipeline` and `forge` together: `bot/cli/stack.py`
(up, demo) and `bot/cli/forge_cmd.py` (forge serve), the composition roots tests/test_layout.py names.
Each module in COMMAND_MODULES has `register(app)`; a feature adds its module name here, and its
top-level command names to COMMAND_OWNERS (a test checks the two agree). A run imports only the module
of the command asked for, so `intentops validate` does not pay for the forge, the SDKs and the servers.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from pathlib import Path

import typer

COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.intents_cmd",
    "bot.cli.governance_cmd",
    "bot.cli.llm_cmd",
    "bot.cli.deploy_cmd",
    "bot.cli.forge_cmd",
    "bot.cli.factory_cmd",
    "bot.cli.bot_cmd",
    "bot.cli.demo_cmd",
    "bot.cli.stages_cmd",
    "bot.cli.shadow_cmd",
    "bot.cli.action_cmd",
)


COMMAND_OWNERS: dict[str, str] = {
    "validate": "bot.cli.intents_cmd",
    "schema": "bot.cli.intents_cmd",
    "govern": "bot.cli.governance_cmd",
    "policy": "bot.cli.governance_cmd",
    "usage": "bot.cli.llm_cmd",
    "deploy": "bot.cli.deploy_cmd",
    "undeploy": "bot.cli.deploy_cmd",
    "services": "bot.cli.deploy_cmd",
    "reconcile": "bot.cli.deploy_cmd",
    "registry": "bot.cli.deploy_cmd",
    "docker": "bot.cli.deploy_cmd",
    "forge": "bot.cli.forge_cmd",
    "spec": "bot.cli.factory_cmd",
    "generate": "bot.cli.factory_cmd",
    "sandbox": "bot.cli.factory_cmd",
    "wheelhouse": "bot.cli.factory_cmd",
    "stage": "bot.cli.factory_cmd",
    "bot": "bot.cli.bot_cmd",
    "worker": "bot.cli.bot_cmd",
    "up": "bot.cli.demo_cmd",
    "demo": "bot.cli.demo_cmd",
    "stages": "bot.cli.stages_cmd",
    "shadow": "bot.cli.shadow_cmd",
    "action": "bot.cli.action_cmd",
}
"""Top-level command -> the module that registers it."""


def build_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    app = typer.Typer(
        name="intentops",
        help="IntentOps: a GitOps assembly line for services, driven by pull requests.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root() -> None:
        """IntentOps: a GitOps assembly line for services, driven by pull requests."""
        # A callback keeps `intentops COMMAND` a group even when only one module is loaded.

    for name in modules:
        importlib.import_module(name).register(app)
    return app


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """Only the module owning the requested command; all of them for help or an unknown command."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    owner = COMMAND_OWNERS.get(first or "")
    return (owner,) if owner and first == (argv[0] if argv else None) else COMMAND_MODULES


def _crash_report(exc: BaseException) -> Path | None:
    """Keep the traceback in a file for bug reports; the user sees one line."""
    try:
        directory = Path(".data") / "crash"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / "last-crash.txt"
        # A traceback can quote settings and tokens: readable by its owner only, like the rest of .data.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


def _is_user_error(exc: Exception) -> bool:
    """Errors the user must act on, not bugs: e.g. a state database written by a newer IntentOps. Looked up
    in sys.modules: if their module was never imported, they cannot have been raised."""
    errors = sys.modules.get("pipeline.state.errors")
    return errors is not None and isinstance(exc, errors.SchemaError)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = build_app(modules_for(sys.argv[1:]))
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if _is_user_error(exc):
            sys.stderr.write(f"intentops: {exc}\n")
            sys.exit(1)
        report = _crash_report(exc)
        where = f" (details in {report})" if report else ""
        sys.stderr.write(f"intentops: internal error: {type(exc).__name__}: {exc}{where}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
