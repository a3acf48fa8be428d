"""Code generation with a model: it writes what templates cannot (endpoint logic beyond CRUD), and test
failures go back to it for at most 3 repair rounds.

The tests were written from the acceptance criteria before any of this and are never the model's to
change: a round that writes outside `app/`, touches a test or pytest, or leaves fewer tests running
(or any skipped) is rejected and undone.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from pipeline.codegen.context import CodegenError
from pipeline.codegen.generator import GeneratedService, format_python, generate_service, ruff_executable
from pipeline.llm import LLMError, LLMProvider, LLMRequest, ToolSpec
from pipeline.sandbox import Sandbox, SandboxResult, TestFailure
from pipeline.spec.model import Spec

STAGE = "codegen"
MAX_REPAIR_ROUNDS = 3
TOOL = ToolSpec(
    name="write_files",
    description="Write complete new contents of files of the service's app/ package.",
    input_schema={
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                    "required": ["path", "content"],
                },
            }
        },
        "required": ["files"],
    },
)
SYSTEM = (
    "You write the Python code of a FastAPI service generated from a SPEC. The acceptance tests are fixed: "
    "you may not change, skip or weaken them, and you may write only files under app/ (never tests/, "
    "conftest.py, pyproject.toml or requirements). Keep create_app(config, registry_transport=...), every "
    "route, /health, /metrics and registration. Do not import pytest. Answer by calling write_files with "
    "the complete content of each file you change."
)


class _File(BaseModel):
    path: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=200_000)


class _Answer(BaseModel):
    files: list[_File] = Field(min_length=1, max_length=20)


@dataclass(frozen=True)
class CodegenRound:
    number: int
    kind: str
    """'write' (the model fills in custom logic) or 'repair'."""
    accepted: bool
    reason: str = ""
    result: SandboxResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "kind": self.kind,
            "accepted": self.accepted,
            "reason": self.reason,
            "result": self.result.to_json() if self.result else None,
        }


@dataclass(frozen=True)
class CodegenReport:
    service: GeneratedService
    result: SandboxResult
    rounds: tuple[CodegenRound, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.result.ok


def generate_with_model(
    spec: Spec,
    directory: Path,
    *,
    provider: LLMProvider,
    sandbox: Sandbox,
    intent_path: str = "",
    max_repairs: int = MAX_REPAIR_ROUNDS,
    budget_key: str | None = None,
) -> CodegenReport:
    """Templates first (tests included); then the model's logic; then up to `max_repairs` repair rounds."""
    service = generate_service(spec, directory, intent_path=intent_path)
    expected = len(spec.acceptance_criteria)
    rounds: list[CodegenRound] = []
    result: SandboxResult | None = None
    if not provider.offline and _has_custom(spec):
        prompt = _write_prompt(spec, directory)
        round_, result = _round(0, "write", prompt, directory, provider, sandbox, expected, None, budget_key)
        rounds.append(round_)
    if result is None:  # no model, nothing custom, or the model's first answer was refused
        result = sandbox.run_tests(directory)
    number = 1
    while not result.ok and not provider.offline and number <= max_repairs:
        prompt = _repair_prompt(spec, directory, result)
        round_, repaired = _round(
            number, "repair", prompt, directory, provider, sandbox, expected, result, budget_key
        )
        result = repaired or result
        rounds.append(round_)
        number += 1
    return CodegenReport(service=service, result=result, rounds=tuple(rounds))


def _has_custom(spec: Spec) -> bool:
    return any(ep.operation == "custom" for ep in spec.endpoints)


def _round(
    number: int,
    kind: str,
    prompt: str,
    directory: Path,
    provider: LLMProvider,
    sandbox: Sandbox,
    expected_tests: int,
    previous: SandboxResult | None,
    budget_key: str | None,
) -> tuple[CodegenRound, SandboxResult | None]:
    try:
        files = _ask(provider, prompt, budget_key)
        _check_paths(files)
    except (LLMError, CodegenError) as exc:
        return CodegenRound(number, kind, accepted=False, reason=str(exc)), previous
    backup = _apply(directory, files)
    result = sandbox.run_tests(directory)
    weakened = _weakened(result, expected_tests)
    if weakened:
        _restore(directory, backup)
        return CodegenRound(number, kind, accepted=False, reason=weakened, result=result), previous
    lint = _lint(directory)
    if lint and result.ok:
        result = _with_lint_failure(result, lint)
    return CodegenRound(number, kind, accepted=True, result=result), result


def _ask(provider: LLMProvider, prompt: str, budget_key: str | None) -> dict[str, str]:
    response = provider.complete(
        LLMRequest(
            stage=STAGE, system=(SYSTEM,), prompt=prompt, tool=TOOL, max_tokens=16000, budget_key=budget_key
        )
    )
    try:
        answer = _Answer.model_validate(response.tool_input or {})
    except ValidationError as exc:
        raise CodegenError(f"the model's answer is not a list of files: {exc.errors()[0]['msg']}") from None
    return {f.path: f.content for f in answer.files}


def _check_paths(files: dict[str, str]) -> None:
    """Only app/ Python files; never tests, conftest or anything that reaches into pytest."""
    for path, content in files.items():
        parts = PurePosixPath(path).parts
        if PurePosixPath(path).is_absolute() or ".." in parts or not parts or parts[0] != "app":
            raise CodegenError(f"rejected: writes {path}, outside app/ (tests and configuration are fixed)")
        if not path.endswith(".py") or parts[-1] == "conftest.py":
            raise CodegenError(f"rejected: writes {path}; only app/ Python modules may change")
        if "pytest" in content:
            raise CodegenError(f"rejected: {path} reaches into pytest; tests may not be skipped or weakened")


def _apply(directory: Path, files: dict[str, str]) -> dict[Path, str | None]:
    backup: dict[Path, str | None] = {}
    for relative, content in files.items():
        path = directory / relative
        backup[path] = path.read_text(encoding="utf-8") if path.is_file() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    # A syntax error shows up in the test run, with its line, for the next repair round.
    with contextlib.suppress(CodegenError):
        format_python(directory)
    return backup


def _restore(directory: Path, backup: dict[Path, str | None]) -> None:
    for path, content in backup.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(content, encoding="utf-8")


def _weakened(result: SandboxResult, expected_tests: int) -> str:
    ran = result.passed + result.failed + result.errors
    if result.skipped:
        return f"rejected: {result.skipped} test(s) skipped; every acceptance test must run"
    if ran < expected_tests and not result.timed_out:
        return f"rejected: only {ran} of {expected_tests} acceptance tests ran"
    return ""


def _lint(directory: Path) -> str:
    ruff = ruff_executable()
    if ruff is None:
        return ""
    done = subprocess.run(
        [ruff, "check", "--no-cache", "--output-format", "concise", "app"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout.strip()[-3000:]


def _with_lint_failure(result: SandboxResult, lint: str) -> SandboxResult:
    return replace(result, errors=result.errors + 1, failures=(*result.failures, TestFailure("ruff", lint)))


def _sources(directory: Path, *names: str) -> str:
    parts = []
    for name in names:
        path = directory / name
        if path.is_file():
            parts.append(f"--- {name}\n{path.read_text(encoding='utf-8')}")
    return "\n".join(parts)


def _write_prompt(spec: Spec, directory: Path) -> str:
    return (
        "Implement the behaviour of the endpoints whose operation is 'custom' (the template answers 501 Not "
        "Implemented for them; every other endpoint already does what its behaviour says). SPEC:\n"
        + json.dumps(spec.to_json(), indent=2)
        + "\n\nCurrent code and the fixed tests:\n"
        + _sources(directory, "app/routes.py", "app/models.py", "app/storage.py", "tests/test_acceptance.py")
    )


def _repair_prompt(spec: Spec, directory: Path, result: SandboxResult) -> str:
    failures = "\n\n".join(f"{f.test}\n{f.message}" for f in result.failures) or result.output
    return (
        f"The tests fail ({result.failed} failed, {result.errors} errors). Fix the code, not the tests.\n\n"
        f"Failures:\n{failures}\n\nCurrent code and the fixed tests:\n"
        + _sources(
            directory,
            "app/routes.py",
            "app/models.py",
            "app/main.py",
            "app/storage.py",
            "tests/test_acceptance.py",
        )
        + "\n\nSPEC:\n"
        + json.dumps(spec.to_json())
    )
