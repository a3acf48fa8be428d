"""Entry point of `intentops`: builds the Typer app from the feature command modules.

Only the commands that start the forge import `bot`, `pipeline` and `forge` together: `bot/cli/stack.py`
(up, demo) and `bot/cli/forge_cmd.py` (forge serve), the composition roots tests/test_layout.py names.
Each module in COMMAND_MODULES has `register(app)`; a feature adds its module name here, and its
top-level command names to COMMAND_OWNERS and COMMAND_HELP (a test checks the three agree). A run imports
only the module of the command asked for, so `intentops validate` does not pay for the forge, the SDKs and
the servers; `intentops --help`, `--version` and shell completion of command names import none of them
(`LazyGroup` lists the commands from COMMAND_HELP and loads a module when its command is used).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from bot.cli.running import adopt_running_up

CONFIG_ENV = "INTENTOPS_CONFIG"
"""bot.config.CONFIG_ENV, repeated so that `intentops --help` does not import pydantic."""

COMMAND_MODULES: tuple[str, ...] = (
    "bot.cli.intents_cmd",
    "bot.cli.config_cmd",
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
    "bot.cli.monitor_cmd",
    "bot.cli.scorer_cmd",
    "bot.cli.k8s_cmd",
)


COMMAND_OWNERS: dict[str, str] = {
    "validate": "bot.cli.intents_cmd",
    "config": "bot.cli.config_cmd",
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
    "monitor": "bot.cli.monitor_cmd",
    "train-scorer": "bot.cli.scorer_cmd",
    "k8s": "bot.cli.k8s_cmd",
}
"""Top-level command -> the module that registers it."""

COMMAND_HELP: dict[str, str] = {
    "action": "Run the line for this GitHub Actions run's event ($GITHUB_EVENT_NAME, $GITHUB_EVENT_PATH) to "
    "the end.",
    "bot": "The bot: webhook intake, job queue and workers.",
    "config": "The configuration: every setting, and a check of yours.",
    "demo": "Drive the hello-world intent from commit to a running, registered service, and print a "
    "timeline; then (from a terminal, or with --stay) hand a second intent over to you on the dashboard. "
    "With --self-improve, show the line improving itself instead.",
    "deploy": "Deploy a service blue/green: start the new version, check health, switch, stop the old one.",
    "docker": "The Docker engine and base image for the Docker backend.",
    "forge": "The embedded GitHub-compatible forge.",
    "generate": "Generate the service (code, tests, Dockerfile, manifest) from a structured SPEC at the "
    "gate.",
    "govern": "Run governance on one intent: print every policy's result, the findings and the decision.",
    "k8s": "Kubernetes manifests for Argo CD or Flux: print (or write) the Deployment, Service, data claim "
    "and kustomization the line writes for a service.",
    "monitor": "Evaluate the assembly-line monitor's rules on the line's metrics and say what each would "
    "file: exit 0 when none would file, 3 when one would, 1 when a rule does not load.",
    "policy": "Governance policies: run their unit tests.",
    "reconcile": "Adopt or restart recorded services, then bring the running set in line with the checkout's "
    "intents.",
    "registry": "The service registry (seed port 8000).",
    "sandbox": "Run a generated service's tests in the sandbox; exit 1 unless tests ran and all passed.",
    "schema": "Print the intent JSON Schema (for editors and other tools).",
    "services": "The registry: every service with its version, status, URL and provenance.",
    "shadow": "Prove a candidate stage on recent intents beside the incumbent, or show the last report on "
    "STAGE.",
    "spec": "Build, verify and optimize the SPEC of an intent; exit 1 when it stays below the gate.",
    "stage": "Serve one factory stage alone (or all of them) over HTTP.",
    "stages": "Each stage of the line: what serves it (built in, or an adopted stage service), since when, "
    "the shadow report that proved it, its lineage and its error rate over the last 24 hours.",
    "train-scorer": "Train governance-v2, the learned alignment scorer, from a history of decided intents "
    "(or a generated one), and prove it beside the line's scorer by shadow evaluation.",
    "undeploy": "Stop and remove a service on whatever backend runs it, and deregister it. Undeploying what "
    "is not deployed does nothing.",
    "up": "Start the forge (with a demo repository and users), the bot and the dashboard; run until Ctrl-C.",
    "usage": "Show cost per month from the state database: model calls per stage, and compute per service "
    "(build and sandbox seconds, uptime; with Docker, CPU seconds and memory, the running containers sampled "
    "now) priced by the rate card.",
    "validate": "Validate intent files, and that no two of them say the same service_name; exit 1 if any is "
    "invalid.",
    "wheelhouse": "Download the generated services' pinned wheels (needs the network once; then a no-op).",
    "worker": "Run more workers on the state database's job queue until Ctrl-C or SIGTERM.",
}
"""Top-level command -> its one-paragraph help, as `intentops --help` lists it without importing modules."""
APP_HELP = "IntentOps: a GitOps assembly line for services, driven by pull requests."
DISTRIBUTION = "intentops"
VERSION_LINE = "intentops {version}"


class LazyGroup(TyperGroup):
    """The root command group: lists every command from COMMAND_HELP, and imports a command's module only
    when that command is run (or its options completed), not to list it."""

    listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_OWNERS))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMAND_OWNERS:
            return self.commands.get(cmd_name)
        if self.listing:
            text = COMMAND_HELP.get(cmd_name, "")
            return TyperCommand(name=cmd_name, help=text, short_help=text, callback=None)
        return self._load(COMMAND_OWNERS[cmd_name]).get(cmd_name)

    def _load(self, module: str) -> Any:
        """Register `module`'s commands on a bare app and take its click commands into this group."""
        bare = typer.Typer(add_completion=False)
        bare.callback()(_no_options)
        importlib.import_module(module).register(bare)
        for name, command in typer.main.get_group(bare).commands.items():
            self.commands.setdefault(name, command)
        return self.commands

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        # Completing a command's name needs the names only; its options are completed once it is loaded.
        self.listing = True
        try:
            return list(super().shell_complete(ctx, incomplete))
        finally:
            self.listing = False


def _no_options() -> None:
    """A callback keeps a one-command app a group, so its commands keep their names."""


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            shown = version(DISTRIBUTION)
        except PackageNotFoundError:  # run from sources that were never installed
            shown = "unknown (not installed)"
        typer.echo(VERSION_LINE.format(version=shown))
        raise typer.Exit()


def build_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    """The app with `modules`' commands registered; the others are loaded when used (LazyGroup)."""
    app = typer.Typer(
        name="intentops",
        cls=LazyGroup,
        help=APP_HELP,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_show_version, is_eager=True, help="Print the version and exit"
            ),
        ] = False,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config",
                envvar=CONFIG_ENV,
                help="The configuration file (intentops.toml; `intentops config table` lists its keys)",
                dir_okay=False,
            ),
        ] = None,
    ) -> None:
        """IntentOps: a GitOps assembly line for services, driven by pull requests."""
        # A callback keeps `intentops COMMAND` a group even when only one module is loaded.
        if config is not None:  # every command's Settings() reads it (bot.config.ConfigFileSource)
            from bot.config import use_config_file

            use_config_file(config)

    for name in modules:
        importlib.import_module(name).register(app)
    return app


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """Only the module owning the requested command; none for help, --version, completion or an unknown
    command (LazyGroup lists them all without importing, and loads the one that is run)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    owner = COMMAND_OWNERS.get(first or "")
    return (owner,) if owner and first == (argv[0] if argv else None) else ()


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
    sys.stderr.write(adopt_running_up(sys.argv[1:], os.environ))
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
