"""The configuration file: the same settings as the environment variables, in one TOML file.

`intentops --config FILE ...` or INTENTOPS_CONFIG=FILE. Each key is its variable's name in lower case
without the `INTENTOPS_` prefix (INTENTOPS_WORKER_THREADS is `worker_threads`, GITHUB_APP_ID is
`github_app_id`). A variable that is set wins over the file. Mistakes are reported at their place,
`intentops.toml:7: worker_threads: Input should be greater than or equal to 0`: an unknown key (with the
closest known one), a table where a value belongs, a value of the wrong type, and TOML syntax errors.

`settings_table()` is the one documented table of every setting (key, variable, default, effect), built
from the Settings class; the README's configuration table is its output (a test keeps them equal).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

if TYPE_CHECKING:
    from bot.settings import Settings

CONFIG_ENV = "INTENTOPS_CONFIG"
PREFIX = "INTENTOPS_"
TOML_POSITION = re.compile(r"\(at line (?P<line>\d+), column (?P<column>\d+)\)")
UNKNOWN_KEY = "unknown setting {key!r}{hint} (the keys are listed by `intentops config table`)"
CLOSEST = "; did you mean {match!r}?"
NOT_A_VALUE = "{key!r} is a table; settings are plain keys (`key = value`) at the top of the file"
NO_FILE = "{path}: cannot read the configuration file: {reason}"
TABLE_HEAD = "| key in the file | variable | default | effect |\n|---|---|---|---|\n"
UNSET = "unset"


class ConfigFileError(ValueError):
    """The configuration file cannot be used; the message names its file and line."""


@dataclass(frozen=True)
class FileValue:
    value: Any
    line: int


def file_key(alias: str) -> str:
    """A variable's key in the file: INTENTOPS_WORKER_THREADS -> worker_threads."""
    lowered = alias.lower()
    return lowered[len(PREFIX) :] if lowered.startswith(PREFIX.lower()) else lowered


def _aliases(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """key in the file -> the variable it stands for."""
    return {
        file_key(info.alias or name): info.alias or name for name, info in settings_cls.model_fields.items()
    }


def _line_of(text: str, key: str) -> int:
    pattern = re.compile(rf"^[ \t]*([\"']?){re.escape(key)}\1[ \t]*=", re.MULTILINE)
    found = pattern.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def read_config_file(path: Path, settings_cls: type[BaseSettings]) -> dict[str, FileValue]:
    """The file's settings by variable name, each with its line; ConfigFileError at the first mistake."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(
            NO_FILE.format(path=path, reason=getattr(exc, "strerror", None) or exc)
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        position = TOML_POSITION.search(str(exc))
        where = f"{position['line']}:{position['column']}" if position else "1"
        message = TOML_POSITION.sub("", str(exc)).strip()
        raise ConfigFileError(f"{path}:{where}: {message}") from None
    known = _aliases(settings_cls)
    values: dict[str, FileValue] = {}
    for key, value in document.items():
        line = _line_of(text, key)
        if key not in known:
            matches = difflib.get_close_matches(key, known, n=1)
            hint = CLOSEST.format(match=matches[0]) if matches else ""
            raise ConfigFileError(f"{path}:{line}: {UNKNOWN_KEY.format(key=key, hint=hint)}")
        if isinstance(value, dict) and not _takes_a_table(settings_cls, known[key]):
            raise ConfigFileError(f"{path}:{line}: {NOT_A_VALUE.format(key=key)}")
        values[known[key]] = FileValue(value, line)
    return values


def _takes_a_table(settings_cls: type[BaseSettings], alias: str) -> bool:
    field = next(info for name, info in settings_cls.model_fields.items() if (info.alias or name) == alias)
    return "dict" in str(field.annotation)


class ConfigFileSource(PydanticBaseSettingsSource):
    """A settings source reading the configuration file (below the environment, above the defaults)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self.path = path
        self.values = read_config_file(path, settings_cls)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        alias = field.alias or field_name
        found = self.values.get(alias)
        return (found.value if found else None), alias, False

    def __call__(self) -> dict[str, Any]:
        return {alias: found.value for alias, found in self.values.items()}


_chosen: list[Path] = []
"""The file `intentops --config FILE` named for this process (it wins over INTENTOPS_CONFIG)."""


def use_config_file(path: Path) -> None:
    """Every Settings() of this process reads `path` (the `--config` option)."""
    _chosen[:] = [path]


def config_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    if _chosen:
        return _chosen[0]
    named = environ.get(CONFIG_ENV, "").strip()
    return Path(named) if named else None


def describe_settings_error(exc: ValidationError, environ: Mapping[str, str] = os.environ) -> list[str]:
    """One line per problem, at its file and line when the value came from the configuration file."""
    from bot.settings import Settings

    path = config_path(environ)
    try:
        in_file = read_config_file(path, Settings) if path else {}
    except ConfigFileError:
        in_file = {}
    set_in_env = {name.upper() for name in environ}
    problems = []
    for error in exc.errors():
        alias = str(error["loc"][0]) if error["loc"] else ""
        found = in_file.get(alias)
        if found is not None and alias.upper() not in set_in_env:
            problems.append(f"{path}:{found.line}: {file_key(alias)}: {error['msg']}")
        else:
            problems.append(f"{alias}: {error['msg']}" if alias else str(error["msg"]))
    return problems


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True, validated_data={})
    if value is None or value in ((), {}, ""):
        return UNSET
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`"


def settings_table(settings_cls: type[Settings] | None = None) -> str:
    """The Markdown table of every setting, in the order the Settings class declares them."""
    if settings_cls is None:
        from bot.settings import Settings

        settings_cls = Settings
    rows = []
    for name, info in settings_cls.model_fields.items():
        alias = info.alias or name
        effect = " ".join((info.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{file_key(alias)}` | `{alias}` | {_default(info)} | {effect} |")
    return TABLE_HEAD + "\n".join(rows) + "\n"


def undocumented(settings_cls: type[BaseSettings]) -> list[str]:
    """Settings without a docstring: the table would say nothing of their effect."""
    return [info.alias or name for name, info in settings_cls.model_fields.items() if not info.description]
