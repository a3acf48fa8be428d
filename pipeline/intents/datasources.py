"""Data sources: what of the line's own data a service reads (`data_sources:`), and what each of its
endpoints reports from it (`reports:`).

Today there is one source, `line-history`: the line's read API over its ledger (`GET /history/intents`,
paged by cursor; `bot/api/history.py`). A service that declares it is given the API's address and a
read-only token of its own when it is deployed, and offline generation writes its endpoints from the
report each one names (`pipeline.factory.analyzer`), computed with the line's own analysis code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints, field_validator

from pipeline.intents.hints import Problem


class DataSource(StrEnum):
    LINE_HISTORY = "line-history"


class Report(StrEnum):
    SPEC_TRENDS = "spec-trends"
    SPEC_BUILDER_SUGGESTION = "spec-builder-suggestion"

    @property
    def source(self) -> DataSource:
        """The data source the report is computed from."""
        return DataSource.LINE_HISTORY

    @property
    def says(self) -> str:
        """What an endpoint serving this report answers, in words (its SPEC's response)."""
        return REPORT_WORDS[self]


REPORT_WORDS: Final = {
    Report.SPEC_TRENDS: (
        "the SPEC quality trends of the line's history: how many SPECs and from when to when; the findings "
        "that cost the most optimizer rounds (per finding: the rounds of the SPECs it was repaired in, how "
        "often it was repaired and how often the optimizer left it); per ISO week the SPECs built, their "
        "mean optimizer rounds, the share that reached the gate and the week's three costliest findings; "
        "and the vague words SPECs used most"
    ),
    Report.SPEC_BUILDER_SUGGESTION: (
        "the spec-builder hints that would avoid the costliest findings it knows an answer to, the finding "
        "codes they answer, and a spec-builder-vN intent (YAML) that says them, empty when there is nothing "
        "to suggest"
    ),
}
MAX_REPORTS = 10
PATH = r"^/[a-z0-9][a-z0-9-]{0,62}$"

NO_SOURCE = "reports {report!r}, which is read from {source!r}: add it to data_sources"
UNREAD_SOURCE = "{source!r} is declared but no endpoint reports from it: add a report that reads it"
NO_REPORTS_WITH = "a service reading the line's data serves only its reports: remove {fields}"
REPORTS_TWICE = "{what} {value!r} is served twice"
RESERVED_PATH = "{path} is the service's own (health, metrics): choose another path"
RESERVED_PATHS = frozenset({"/health", "/metrics"})


class ReportHint(BaseModel):
    """One endpoint of a service reading the line's data: GET `path` answers `report`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Annotated[StrictStr, StringConstraints(pattern=PATH)] = Field(
        description="GET path of the endpoint: '/' and a lowercase DNS label (e.g. /spec-trends)."
    )
    report: Report = Field(
        description="What it answers: " + "; ".join(f"{r.value}: {r.says}" for r in Report)
    )
    summary: Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=500)] = ""

    @field_validator("path")
    @classmethod
    def _own_paths(cls, value: str) -> str:
        if value in RESERVED_PATHS:
            raise ValueError(RESERVED_PATH.format(path=value))
        return value


DataSources = Annotated[
    list[DataSource],
    Field(
        description="The line's own data this service reads (line-history: the read API over the "
        "ledger); the deployer gives it the source's address and a read-only token.",
    ),
]
Reports = Annotated[
    list[ReportHint],
    Field(max_length=MAX_REPORTS, description="What each endpoint reports from them."),
]


def check_data_sources(
    sources: list[DataSource],
    reports: list[ReportHint],
    *,
    others: dict[str, bool],
) -> list[Problem]:
    """Problems (location, message) of data sources and reports together; `others` says which fields
    that cannot go with them are set (resources, endpoints, implements)."""
    problems: list[Problem] = []
    if not sources and not reports:
        return problems
    for name, present in others.items():
        if present:
            problems.append(((name,), NO_REPORTS_WITH.format(fields=name)))
    if len(set(sources)) != len(sources):
        problems.append((("data_sources",), "lists a data source more than once"))
    for index, hint in enumerate(reports):
        if hint.report.source not in sources:
            message = NO_SOURCE.format(report=hint.report.value, source=hint.report.source.value)
            problems.append((("reports", index, "report"), message))
    read = {hint.report.source for hint in reports}
    for index, source in enumerate(sources):
        if source not in read:
            problems.append((("data_sources", index), UNREAD_SOURCE.format(source=source.value)))
    for what, values in (("path", [h.path for h in reports]), ("report", [h.report.value for h in reports])):
        for index, value in enumerate(values):
            if value in values[:index]:
                problems.append((("reports", index, what), REPORTS_TWICE.format(what=what, value=value)))
    return problems
