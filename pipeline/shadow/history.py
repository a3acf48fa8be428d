"""A history of intents written down as a file: the bundled example history (`data/history.yaml`), which
`intentops shadow` and the demo replay when the ledger has none, or a history someone gives the command.

The file holds the blueprint and policy files of the time, then the intents newest first, each with its
path, author and what was decided (`HumanOutcome`); an entry may carry its own blueprint or policies.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.governance.loading import PolicySet
from pipeline.shadow.cases import DEFAULT_CASES, ShadowCase
from pipeline.shadow.datafiles import DATA, intent_at, read_model
from pipeline.shadow.model import HumanOutcome

BUNDLED_HISTORY = DATA / "history.yaml"
BUNDLED_SOURCE = "the bundled example history"
FILE_SOURCE = "the history in {path}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Entry(_Strict):
    path: str = Field(min_length=1, max_length=500)
    intent: dict[str, Any]
    outcome: HumanOutcome = HumanOutcome.UNDECIDED
    author: str = Field(default="", max_length=100)
    commit: str = Field(default="", max_length=64)
    blueprint: str | None = None
    policies: dict[str, str] | None = None


class _History(_Strict):
    version: Literal[1]
    blueprint: str = ""
    policies: dict[str, str] = Field(default_factory=dict)
    intents: list[_Entry] = Field(min_length=1)


def load_history(
    path: Path = BUNDLED_HISTORY, *, floor: PolicySet | None, limit: int = DEFAULT_CASES
) -> tuple[ShadowCase, ...]:
    """The first `limit` intents of the history at `path` (newest first) as cases governed by `floor` and
    the file's policies. Raises ShadowDataError (file:line) for a file that is not a history."""
    history, document = read_model(path, _History)
    cases = []
    for index, entry in enumerate(history.intents[:limit]):
        where: tuple[str | int, ...] = ("intents", index, "intent")
        policies = history.policies if entry.policies is None else entry.policies
        cases.append(
            ShadowCase(
                path=entry.path,
                intent=intent_at(entry.intent, path=path, document=document, where=where),
                blueprint=history.blueprint if entry.blueprint is None else entry.blueprint,
                policies=MappingProxyType({name: text.encode() for name, text in policies.items()}),
                floor=floor,
                outcome=entry.outcome,
                commit=entry.commit,
                author=entry.author,
            )
        )
    return tuple(cases)


def history_source(path: Path) -> str:
    """How reports name where the cases came from."""
    return BUNDLED_SOURCE if path.resolve() == BUNDLED_HISTORY else FILE_SOURCE.format(path=path)
