"""Problems found in an intent file, each with the file, line and column it concerns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IntentProblem:
    """One thing wrong with an intent file. `line` and `column` are 1-based; 0 means 'the whole file'."""

    file: str
    line: int
    column: int
    message: str
    field: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        subject = f"{self.field}: " if self.field else ""
        return f"{where}: {subject}{self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }


class InvalidIntent(ValueError):
    """An intent file that cannot be used; `problems` says everything found wrong with it."""

    def __init__(self, problems: list[IntentProblem]) -> None:
        if not problems:
            raise ValueError("InvalidIntent needs at least one problem")
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def first(self) -> IntentProblem:
        return self.problems[0]
