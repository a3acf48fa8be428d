"""Intent problems for the tools that show them on the lines of a file: GitHub Actions workflow commands
(`::error file=...,line=...::message`) and SARIF 2.1.0 for code scanning."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.intents import IntentProblem

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "intentops"
RULE_ID = "intentops/invalid-intent"
RULE_TEXT = "An intent file the line cannot use: the message says what to change, at its line and column."
ANNOTATION_TITLE = "Invalid intent"


def _escape_data(text: str) -> str:
    """A workflow command's message: a newline in it would otherwise start a command of its own."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value: `,` and `:` end it, so they are escaped too."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _message(problem: IntentProblem) -> str:
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


def github_annotation(problem: IntentProblem) -> str:
    """One `::error` workflow command: the runner shows it on the file and line of the pull request."""
    properties = [f"file={_escape_property(problem.file)}"]
    if problem.line > 0:
        properties.append(f"line={problem.line}")
        if problem.column > 0:
            properties.append(f"col={problem.column}")
    properties.append(f"title={_escape_property(ANNOTATION_TITLE)}")
    return f"::error {','.join(properties)}::{_escape_data(_message(problem))}"


def github_annotations(problems: Iterable[IntentProblem]) -> str:
    return "".join(github_annotation(problem) + "\n" for problem in problems)


def _uri(file: str, root: Path) -> str:
    """The file relative to the repository root, with forward slashes (what code scanning matches)."""
    path = Path(file)
    with suppress(ValueError):  # outside the root: kept as given
        path = path.resolve().relative_to(root.resolve())
    return PurePosixPath(*path.parts).as_posix() if path.parts else file


def _result(problem: IntentProblem, root: Path) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": _uri(problem.file, root)}}
    if problem.line > 0:
        location["region"] = {"startLine": problem.line, "startColumn": max(problem.column, 1)}
    return {
        "ruleId": RULE_ID,
        "ruleIndex": 0,
        "level": "error",
        "message": {"text": _message(problem)},
        "locations": [{"physicalLocation": location}],
    }


def sarif_log(problems: Iterable[IntentProblem], *, root: Path, version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of intentops and one result per problem; `root`: what the file
    paths are made relative to (the repository's checkout)."""
    rule = {
        "id": RULE_ID,
        "name": "InvalidIntent",
        "shortDescription": {"text": ANNOTATION_TITLE},
        "fullDescription": {"text": RULE_TEXT},
        "defaultConfiguration": {"level": "error"},
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": {"name": TOOL_NAME, "version": version, "rules": [rule]}},
                "results": [_result(problem, root) for problem in problems],
            }
        ],
    }
