"""`intentops config`: the settings' table, and a check of the configuration in force (file and variables)."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.markup import escape

from bot.cli.output import err, out
from bot.config import ConfigFileError, config_path, describe_settings_error, file_key, settings_table

config_app = typer.Typer(help="The configuration: every setting, and a check of yours.", no_args_is_help=True)

VALID = "the configuration is valid ({source}); settings that differ from their default:"
NO_FILE = "no configuration file (give one with --config or INTENTOPS_CONFIG), the environment only"
INVALID = "the configuration is not valid:"


@config_app.command()
def table() -> None:
    """Print every setting as a Markdown table: key in the file, variable, default, effect."""
    typer.echo(settings_table(), nl=False)


@config_app.command()
def check() -> None:
    """Load the configuration as the bot would: exit 1 naming each mistake at its file and line."""
    from bot.settings import Settings

    path = config_path()
    try:
        settings = Settings()
    except ConfigFileError as exc:
        err.print(escape(f"{INVALID}\n  {exc}"))
        raise typer.Exit(1) from None
    except ValidationError as exc:
        err.print(escape("\n  ".join([INVALID, *describe_settings_error(exc)])))
        raise typer.Exit(1) from None
    out.print(escape(VALID.format(source=path or NO_FILE)))
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if value != info.get_default(call_default_factory=True, validated_data={}):
            shown = "(secret)" if "Secret" in type(value).__name__ else value
            out.print(escape(f"  {file_key(info.alias or name)} = {shown}"))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
