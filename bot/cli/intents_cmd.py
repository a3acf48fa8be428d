"""`intentops validate` and `intentops schema`: check intent files, print the intent JSON Schema."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bot.cli.annotations import github_annotations, sarif_log
from bot.cli.output import err, out, print_json
from pipeline.intents import (
    IntentProblem,
    InvalidIntent,
    LocatedIntent,
    duplicate_names,
    intent_json_schema,
    load_located_intent_file,
)
from pipeline.intents.stagehints import stage_suggestion

INTENT_SUFFIXES = (".yaml", ".yml")
UNEXPECTED = "could not be checked ({error}); please report this"
NO_INTENT_FILES = "no intent files found (*.yaml, *.yml)"


class ValidateFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    """GitHub Actions workflow commands: each problem annotated on its file and line."""
    SARIF = "sarif"
    """SARIF 2.1.0 on stdout, for code scanning (upload it with github/codeql-action/upload-sarif)."""


ValidateFormatOption = Annotated[
    ValidateFormat,
    typer.Option(
        "--format",
        help="text for people, json for programs, github for workflow annotations, sarif for code scanning",
    ),
]


def collect_intent_files(paths: list[Path]) -> tuple[list[Path], list[IntentProblem]]:
    """Expand directories to the intent files under them; name paths that do not exist as problems.
    A file named twice (itself and through its directory) is checked once."""
    files: list[Path] = []
    missing: list[IntentProblem] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in INTENT_SUFFIXES and p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            missing.append(IntentProblem(str(path), 0, 0, "no such file or directory"))
    return _once_each(files), missing


def _once_each(files: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    unique = []
    for path in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def check_file(path: Path) -> tuple[LocatedIntent | None, list[IntentProblem]]:
    """One file's intent, or its problems. Whatever goes wrong reading it is that file's problem; the
    others get theirs."""
    try:
        return load_located_intent_file(path), []
    except InvalidIntent as exc:
        return None, exc.problems
    except Exception as exc:  # a loader bug must not cost the user the other files' results
        return None, [IntentProblem(str(path), 0, 0, UNEXPECTED.format(error=describe(exc)))]


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def check_files(files: list[Path]) -> dict[str, FileResult]:
    """Every file's result, the files that say a service name another file owns included (see
    `pipeline.intents.owners`: among the files given, the first path in sorted order owns a name)."""
    results: dict[str, FileResult] = {}
    loaded: dict[str, LocatedIntent] = {}
    for path in files:
        located, problems = check_file(path)
        results[str(path)] = FileResult(str(path), located, problems)
        if located is not None:
            loaded[str(path)] = located
    for problem in duplicate_names(loaded):
        results[problem.file].problems.append(problem)
    return results


@dataclass
class FileResult:
    file: str
    intent: LocatedIntent | None
    problems: list[IntentProblem]

    @property
    def suggestions(self) -> list[str]:
        """Not problems: what the file most likely means to say (`implements` for a stage's new version)."""
        if self.intent is None:
            return []
        found = stage_suggestion(self.intent.intent.service_name, self.intent.intent.implements)
        return [found] if found else []

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"file": self.file, "valid": not self.problems}
        if self.intent is not None:
            result["service_name"] = self.intent.intent.service_name
        result["problems"] = [p.to_json() for p in self.problems]
        if self.suggestions:
            result["suggestions"] = self.suggestions
        return result


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Intent files, or directories to search for *.yaml")],
    output_format: ValidateFormatOption = ValidateFormat.TEXT,
) -> None:
    """Validate intent files, and that no two of them say the same service_name; exit 1 if any is invalid."""
    files, missing = collect_intent_files(paths)
    results = list(check_files(files).values())
    results += [FileResult(problem.file, None, [problem]) for problem in missing]
    if not results:
        problem = IntentProblem(" ".join(map(str, paths)), 0, 0, NO_INTENT_FILES)
        results.append(FileResult(problem.file, None, [problem]))
    problems = [problem for result in results for problem in result.problems]
    if output_format is ValidateFormat.JSON:
        print_json({"valid": not problems, "files": [result.to_json() for result in results]})
    elif output_format is ValidateFormat.GITHUB:
        sys.stdout.write(github_annotations(problems))
        _print_text(results, [])
    elif output_format is ValidateFormat.SARIF:
        print_json(sarif_log(problems, root=Path.cwd(), version=_version()))
    else:
        _print_text(results, problems)
    if problems:
        raise typer.Exit(1)


def _print_text(results: list[FileResult], problems: list[IntentProblem]) -> None:
    valid = [result for result in results if not result.problems]
    for result in valid:
        name = result.intent.intent.service_name if result.intent else ""
        out.print(f"[green]valid[/green]   {escape(result.file)} ({escape(name)})")
        for suggestion in result.suggestions:
            out.print(f"[yellow]note[/yellow]    {escape(result.file)}: {escape(suggestion)}")
    for problem in problems:
        err.print(f"[red]invalid[/red] {escape(str(problem))}")
    out.print(f"{len(valid)} valid, {len(results) - len(valid)} invalid")


def _version() -> str:
    try:
        return version("intentops")
    except PackageNotFoundError:
        return "0"


def schema() -> None:
    """Print the intent JSON Schema (for editors and other tools)."""
    print_json(intent_json_schema())


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
