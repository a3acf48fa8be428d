"""Shared console output for the CLI: rich for people, JSON for programs, one line per problem."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text for people, json for programs")]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one clear line on stderr and exit."""
    err.print(f"[red]error:[/red] {message}", markup=True)
    raise typer.Exit(code)
