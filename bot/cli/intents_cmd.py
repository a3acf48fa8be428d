"""`intentops validate` and `intentops schema`: check intent files, print the intent JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bot.cli.output import FormatOption, OutputFormat, err, out, print_json
from pipeline.intents import IntentProblem, InvalidIntent, intent_json_schema, load_intent_file

INTENT_SUFFIXES = (".yaml", ".yml")
UNEXPECTED = "could not be checked ({error}); please report this"


def collect_intent_files(paths: list[Path]) -> tuple[list[Path], list[IntentProblem]]:
    """Expand directories to the intent files under them; name paths that do not exist as problems."""
    files: list[Path] = []
    missing: list[IntentProblem] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in INTENT_SUFFIXES and p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            missing.append(IntentProblem(str(path), 0, 0, "no such file or directory"))
    return files, missing


def check_file(path: Path) -> tuple[dict[str, Any], list[IntentProblem]]:
    """One file's result. Whatever goes wrong reading it is that file's problem; the others get theirs."""
    try:
        intent = load_intent_file(path)
    except InvalidIntent as exc:
        found = exc.problems
    except Exception as exc:  # a loader bug must not cost the user the other files' results
        found = [IntentProblem(str(path), 0, 0, UNEXPECTED.format(error=describe(exc)))]
    else:
        return {"file": str(path), "valid": True, "service_name": intent.service_name, "problems": []}, []
    return {"file": str(path), "valid": False, "problems": [p.to_json() for p in found]}, found


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Intent files, or directories to search for *.yaml")],
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Validate intent files; exit 1 if any is invalid."""
    files, problems = collect_intent_files(paths)
    results: list[dict[str, Any]] = []
    for path in files:
        result, found = check_file(path)
        results.append(result)
        problems.extend(found)
    for problem in problems:
        if not any(r["file"] == problem.file for r in results):
            results.append({"file": problem.file, "valid": False, "problems": [problem.to_json()]})
    if not results:
        problems.append(
            IntentProblem(" ".join(map(str, paths)), 0, 0, "no intent files found (*.yaml, *.yml)")
        )
        results.append(
            {"file": " ".join(map(str, paths)), "valid": False, "problems": [problems[-1].to_json()]}
        )
    if output_format is OutputFormat.JSON:
        print_json({"valid": not problems, "files": results})
    else:
        for result in results:
            if result["valid"]:
                out.print(
                    f"[green]valid[/green]   {escape(result['file'])} ({escape(result['service_name'])})"
                )
        for problem in problems:
            err.print(f"[red]invalid[/red] {escape(str(problem))}")
        count = sum(1 for r in results if r["valid"])
        out.print(f"{count} valid, {len(results) - count} invalid")
    if problems:
        raise typer.Exit(1)


def schema() -> None:
    """Print the intent JSON Schema (for editors and other tools)."""
    print_json(intent_json_schema())


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
