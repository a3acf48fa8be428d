"""`intentops --help`, `--version` and completion of command names answer without importing the command
modules (what made `--help` take seconds): measured as the set of modules imported, which does not vary
with the machine's load as wall time does. Each command's help line is the one its module declares."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import typer

from bot.cli.main import COMMAND_HELP, COMMAND_OWNERS, build_app

HEAVY = (
    "pipeline",
    "forge",
    "fastapi",
    "sqlalchemy",
    "github",
    "uvicorn",
    "git",
    "httpx",
    "docker",
    "anthropic",
)
"""What the command modules import (Typer itself may import pydantic to complete)."""
LIGHT = ("bot.cli.main", "bot.cli.running")
PROBE = """
import json, sys
sys.argv = ["intentops", *json.loads(sys.argv[1])]
from bot.cli.main import main
try:
    main()
except SystemExit:
    pass
print("\\0" + json.dumps(sorted(sys.modules)))
"""


def _imported(*argv: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True, env=env, check=True
    )
    shown, _, modules = done.stdout.rpartition("\0")
    return shown, set(json.loads(modules))


def _heavy(modules: set[str]) -> set[str]:
    return {
        name
        for name in modules
        if name.split(".")[0] in HEAVY or name.startswith("bot.cli.") and name not in LIGHT
    }


def test_help_lists_every_command_without_importing_them() -> None:
    shown, modules = _imported("--help")
    assert not _heavy(modules), sorted(_heavy(modules))
    for name in COMMAND_OWNERS:
        assert f" {name} " in shown


def test_version_and_name_completion_import_no_command() -> None:
    shown, modules = _imported("--version")
    assert shown.startswith("intentops ") and not _heavy(modules)
    env = {
        **os.environ,
        "_INTENTOPS_COMPLETE": "complete_bash",
        "COMP_WORDS": "intentops sta",
        "COMP_CWORD": "1",
    }
    shown, modules = _imported(env=env)
    assert shown.split() == ["stage", "stages"] and not _heavy(modules)


def test_a_command_run_by_name_is_loaded_when_used() -> None:
    shown, modules = _imported("schema")
    assert '"$id": "https://intentops.dev/schemas/intent.schema.json"' in shown
    assert "bot.cli.intents_cmd" in modules and "bot.cli.deploy_cmd" not in modules


def test_listed_help_is_each_commands_own() -> None:
    group = typer.main.get_group(build_app())
    for name, command in group.commands.items():
        own = (command.short_help or command.help or "").split("\n\n")[0]
        assert COMMAND_HELP[name] == " ".join(own.split()), (
            f"COMMAND_HELP[{name!r}] in bot/cli/main.py is not the first paragraph of its help"
        )
    assert set(COMMAND_HELP) == set(COMMAND_OWNERS) == set(group.commands)
