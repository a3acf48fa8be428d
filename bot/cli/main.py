"""Entry point of `intentops`: builds the Typer app from the feature command modules.

This is the composition root: the one place allowed to import `bot`, `pipeline` and `forge` together.
Each module in COMMAND_MODULES has `register(app)`; a feature adds its module name here.
"""

from __future__ import annotations

import importlib
import logging
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
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="intentops",
        help="IntentOps: a GitOps assembly line for services, driven by pull requests.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def _crash_report(exc: BaseException) -> Path | None:
    """Keep the traceback in a file for bug reports; the user sees one line."""
    try:
        directory = Path(".data") / "crash"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "last-crash.txt"
        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        return path
    except OSError:
        return None


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = build_app()
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as exc:
        report = _crash_report(exc)
        where = f" (details in {report})" if report else ""
        sys.stderr.write(f"intentops: internal error: {type(exc).__name__}: {exc}{where}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
