"""Services that read the line's own data: what the line builds for an intent with `data_sources:`.

Such a service (spec-analyzer is the first) serves one GET endpoint per `reports:` entry, plus `/health` and
`/metrics`, and registers like every generated service. Each endpoint reads every page of the line's read
API itself (`GET /history/intents`, following `next_cursor`, with the reader token its deployer gives it:
`pipeline.history.access`) and computes its report with the line's own analysis code
(`pipeline.history.analysis`), shipped to it in the stage kit; so its answer is the line's reading of the
same ledger (`GET /history/spec-analysis`).

Its SPEC goes through the line's builder, optimizer and verifier like any other: `report_intent` gives the
builder the report endpoints, and `describe_reports` says in words what each one answers and when it
fails. Its tests serve recorded pages from a stand-in of the read API (`sample_pages`: a small history with
two weeks of SPECs and their findings), check every page was read with the token, and compare each answer
with the line's analysis of those pages, computed when the service was generated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.assembly import BuildOutcome, clean_workdir, collect_files
from pipeline.codegen.generator import GeneratedService, finish_service, prepare_folder, render_templates
from pipeline.factory.interfaces import FactoryStages
from pipeline.history.access import DATA_SOURCES_FILE, ENV_HISTORY_TOKEN, ENV_HISTORY_URL
from pipeline.history.analysis import analyze
from pipeline.history.records import IntentHistory
from pipeline.intents import HttpMethod, Intent
from pipeline.intents.datasources import Report
from pipeline.sandbox.runner import Sandbox
from pipeline.spec.model import ErrorCase, Spec
from pipeline.stagekit import StageKit, stage_kit
from pipeline.wheelhouse import stage_requirements

HISTORY_PATH = "/history/intents"
PAGE_SIZE = 200
"""Intents per page the service asks for (the read API's most)."""
SAMPLE_PAGE_SIZE = 2
"""Intents per recorded page in the service's tests: several pages, so following the cursor is tested."""
OWN_TEMPLATES = {
    "app/__init__.py.j2": "app/__init__.py",
    "app/config.py.j2": "app/config.py",
    "app/history.py.j2": "app/history.py",
    "app/main.py.j2": "app/main.py",
    "app/registration.py.j2": "app/registration.py",
    "app/reports.py.j2": "app/reports.py",
    "tests/conftest.py.j2": "tests/conftest.py",
    "tests/test_acceptance.py.j2": "tests/test_acceptance.py",
    "Dockerfile.j2": "Dockerfile",
    "README.md.j2": "README.md",
}
SHARED_TEMPLATES = {
    "app/__main__.py.j2": "app/__main__.py",
    "app/metrics.py.j2": "app/metrics.py",
    "requirements.txt.j2": "requirements.txt",
    "requirements-test.txt.j2": "requirements-test.txt",
    "dockerignore.j2": ".dockerignore",
    "pyproject.toml.j2": "pyproject.toml",
}
"""The stage services' templates, the same for these services."""
NOT_A_READER = "{name} declares no data source; it is not a service reading the line's data"
REPORT_RESPONSE = "a JSON object: {words}"
REPORT_ERRORS = (
    ErrorCase(status=422, when="repo is not OWNER/NAME"),
    ErrorCase(
        status=502,
        when="the line's read API refuses the service's token, cannot be reached, or answers something "
        "that is not a page of the line's history",
    ),
    ErrorCase(status=503, when=f"the service was given no {ENV_HISTORY_URL} or {ENV_HISTORY_TOKEN}"),
)
SCOPE_LINE = (
    "Reads the line's history itself: every page of GET {path} (following next_cursor) with its own "
    "read-only token, and computes its reports with the line's analysis code from its stage kit {kit}."
)
REPORT_CRITERION = (
    "the line's read API serves a recorded history of {specs} SPECs over {weeks} ISO weeks, in pages of "
    "{size}",
    "a client sends GET {path}",
    "the answer is {report} as the line computes it from that history (every page read, following "
    "next_cursor, with the service's token)",
)


@dataclass(frozen=True)
class ReportEndpoint:
    path: str
    report: Report

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "report": self.report.value}


def reads_line_data(intent: Intent) -> bool:
    return intent.reads_line_data()


def _reports(intent: Intent) -> list[ReportEndpoint]:
    if not intent.reads_line_data():
        raise ValueError(NOT_A_READER.format(name=intent.service_name))
    return [ReportEndpoint(hint.path, hint.report) for hint in intent.reports]


def report_intent(intent: Intent) -> Intent:
    """The intent the spec-builder is given: the same purpose and context, with one GET endpoint hint per
    report (a builder that predates data sources reads it too)."""
    endpoints = [
        {
            "method": HttpMethod.GET.value,
            "path": hint.path,
            "summary": hint.summary or f"Report {hint.report.value} from the line's history.",
        }
        for hint in intent.reports
    ]
    kept = intent.model_dump(mode="json", exclude_defaults=True, exclude={"data_sources", "reports"})
    return Intent.model_validate({**kept, "endpoints": endpoints})


def describe_reports(spec: Spec, intent: Intent, *, kit: StageKit | None = None) -> Spec:
    """The builder's SPEC with what only the line knows: what each report endpoint answers, in words, its
    errors, where its data comes from, and acceptance criteria that exercise it with recorded data."""
    reports = {r.path: r.report for r in _reports(intent)}
    kit = kit or stage_kit()
    pages = sample_pages()
    specs = sum(1 for page in pages for item in page["items"] if item["spec"] is not None)
    weeks = len(analyze(_records(pages)).weeks)
    endpoints, requirements = [], {fr.id: fr for fr in spec.functional_requirements}
    by_endpoint: dict[str, Report] = {}
    for endpoint in spec.endpoints:
        report = reports.get(endpoint.path) if endpoint.method is HttpMethod.GET else None
        if report is not None:
            endpoint = endpoint.model_copy(
                update={
                    "response": REPORT_RESPONSE.format(words=report.says),
                    "errors": list(REPORT_ERRORS),
                    "summary": f"Report {report.value} from the line's history.",
                }
            )
            by_endpoint[endpoint.id] = report
        endpoints.append(endpoint)
    criteria = []
    for criterion in spec.acceptance_criteria:
        report = by_endpoint.get(criterion.endpoint)
        if report is not None:
            given, when, then = REPORT_CRITERION
            path = next(p for p, r in reports.items() if r is report)
            criterion = criterion.model_copy(
                update={
                    "given": given.format(specs=specs, weeks=weeks, size=SAMPLE_PAGE_SIZE),
                    "when": when.format(path=path),
                    "then": then.format(report=report.value),
                    "check": "custom_ok",
                }
            )
            fr = requirements.get(criterion.requirement)
            if fr is not None:
                statement = f"GET {path} MUST answer {report.says}."
                requirements[fr.id] = fr.model_copy(update={"statement": statement})
        criteria.append(criterion)
    scope = [*spec.overview.scope, SCOPE_LINE.format(path=HISTORY_PATH, kit=kit.version)]
    return spec.model_copy(
        update={
            "endpoints": endpoints,
            "acceptance_criteria": criteria,
            "functional_requirements": list(requirements.values()),
            "overview": spec.overview.model_copy(update={"scope": scope}),
            "logic": "stage",
        }
    )


# -- the recorded history its tests serve ----------------------------------------------------------------

_SAMPLE_FINDINGS = (
    ("vague-word", "observability", "Observability: 'fast' is not measurable"),
    ("no-metrics", "observability", "Observability names no metric"),
    ("no-latency", "non_functional", "Non-functional requirements give no latency"),
)


def _sample_spec(number: int) -> dict[str, Any]:
    """A SPEC of the recorded history: round by round repairs of one, two or three findings."""
    made = _SAMPLE_FINDINGS[: 1 + number % 3]
    rounds = [{"round": 0, "score": 70, "findings": len(made), "repairs": []}]
    rounds += [
        {
            "round": n + 1,
            "score": 70 + 10 * (n + 1),
            "findings": len(made) - n - 1,
            "repairs": [f"{code} fixed"],
        }
        for n, (code, _section, _message) in enumerate(made)
    ]
    left = [_SAMPLE_FINDINGS[0]] if number % 2 == 0 else []
    return {
        "score": 92,
        "gate": 90,
        "reached_gate": number % 4 != 3,
        "optimizer_rounds": len(rounds) - 1,
        "rounds": rounds,
        "findings": [
            {"code": code, "section": section, "severity": "major", "message": message, "hard": True}
            for code, section, message in left
        ],
    }


def sample_pages(*, count: int = 7, size: int = SAMPLE_PAGE_SIZE) -> list[dict[str, Any]]:
    """A small history as the read API pages it: `count` intents over two ISO weeks, one without a SPEC."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    items = []
    for number in range(count):
        moment = start + timedelta(days=2 * number)
        items.append(
            IntentHistory(
                id=number + 1,
                repo="acme/intents",
                path=f"intents/tool-{number}.yaml",
                service_name=f"tool-{number}",
                state="deployed" if number else "received",
                author="alice",
                created_at=moment,
                updated_at=moment + timedelta(minutes=5),
                outcome="approved" if number else "undecided",
                stages=({"stage": "spec", "outcome": "ok", "duration_ms": 120, "at": moment.isoformat()},),
                decisions=(),
                spec=_sample_spec(number) if number else None,
                cost={"llm_calls": 0, "llm_usd": 0.0},
            ).to_json()
        )
    pages = []
    for first in range(0, count, size):
        chunk = items[first : first + size]
        more = first + size < count
        pages.append({"items": chunk, "next_cursor": chunk[-1]["id"] if more else None})
    return pages


def _records(pages: list[dict[str, Any]]) -> list[IntentHistory]:
    return [IntentHistory.from_json(item) for page in pages for item in page["items"]]


def expected_reports(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """What each report answers for `pages`, as the line computes it."""
    analysis = analyze(_records(pages))
    return {report.value: report_answer(report, analysis.to_json()) for report in Report}


def report_answer(report: Report, analysis: dict[str, Any]) -> dict[str, Any]:
    """A report's answer, from the analysis' JSON (`SpecAnalysis.to_json`): the service answers the same."""
    if report is Report.SPEC_BUILDER_SUGGESTION:
        keys = ("specs", "since", "until", "suggested_hints", "answers", "suggested_intent")
    else:
        keys = ("specs", "since", "until", "findings", "weeks", "vague_words")
    return {key: analysis[key] for key in keys}


# -- the service's files ----------------------------------------------------------------------------------


def generate_report_service(
    spec: Spec, directory: Path, *, intent: Intent, intent_path: str = "", kit: StageKit | None = None
) -> GeneratedService:
    """Write the service of `intent` (whose SPEC is `spec`) into `directory`; its requirements pin `kit`."""
    reports = _reports(intent)
    kit = kit or stage_kit()
    prepare_folder(directory)
    pages = sample_pages()
    values = _template_values(spec, reports, kit, intent)
    render_templates(directory, "analyzer", OWN_TEMPLATES, values)
    render_templates(directory, "stage", SHARED_TEMPLATES, values)
    sources = {
        "service_name": spec.service_name,
        "data_sources": [s.value for s in intent.data_sources],
        "reports": [r.to_json() for r in reports],
        "kit": kit.version,
    }
    (directory / DATA_SOURCES_FILE).write_text(json.dumps(sources, indent=2) + "\n", encoding="utf-8")
    recorded = {"pages": pages, "expected": expected_reports(pages)}
    (directory / "tests" / "history_pages.json").write_text(
        json.dumps(recorded, indent=1) + "\n", encoding="utf-8"
    )
    return finish_service(spec, directory, intent_path=intent_path)


def _template_values(
    spec: Spec, reports: list[ReportEndpoint], kit: StageKit, intent: Intent
) -> dict[str, Any]:
    acceptance = []
    by_id = {r.path: r for r in reports}
    for criterion in spec.acceptance_criteria:
        endpoint = spec.endpoint(criterion.endpoint)
        check = spec.check_of(criterion)
        report = by_id.get(endpoint.path) if endpoint is not None else None
        kind = check if check in {"health_ok", "metrics_ok", "registers", "registry_down"} else "report"
        doc = f"{criterion.id} ({criterion.requirement}): given {criterion.given}, when {criterion.when}, "
        doc += f"then {criterion.then}."
        acceptance.append(
            {
                "name": spec.test_name(criterion),
                "kind": kind if report is not None or kind != "report" else "unknown",
                "path": report.path if report is not None else "",
                "report": report.report.value if report is not None else "",
                "doc": doc.replace("\\", "\\\\").replace('"""', "'''"),
            }
        )
    return {
        "spec": spec,
        "spec_hash": spec.content_hash(),
        "stage": "line-history reader",
        "reports": [r.to_json() for r in reports],
        "data_sources": [s.value for s in intent.data_sources],
        "health_path": spec.deployment.health_path,
        "history_path": HISTORY_PATH,
        "page_size": PAGE_SIZE,
        "acceptance": acceptance,
        "kit_version": kit.version,
        "requirements": stage_requirements(kit).rstrip("\n"),
        "test_requirements": stage_requirements(kit, with_tests=True).rstrip("\n"),
    }


# -- the build --------------------------------------------------------------------------------------------


def build_report_service(
    intent: Intent,
    *,
    intent_path: str,
    blueprint: str,
    workdir: Path,
    sandbox_for: Callable[[Path], Sandbox],
    stages: FactoryStages,
    gate: int,
    max_rounds: int,
    progress: Callable[[str], None],
) -> BuildOutcome:
    """A service reading the line's data: its SPEC from the routed builder (given the report endpoints),
    described with what each reports, optimized and verified like any SPEC; its code from the analyzer
    templates; its tests (recorded pages of the history served by a stand-in read API) in the sandbox."""
    progress("spec")
    draft = stages.builder.build(report_intent(intent), blueprint=blueprint, intent_path=intent_path)
    kit = stage_kit()
    spec = describe_reports(draft, intent, kit=kit)
    report = stages.optimizer.optimize(spec, gate=gate, max_rounds=max_rounds)
    report = replace(report, verification=stages.verifier.verify(report.spec))
    if not report.reached_gate:
        return BuildOutcome(service_name=intent.service_name, spec=report)
    progress("code")
    directory = workdir / intent.service_name
    clean_workdir(workdir, intent.service_name)
    generated = generate_report_service(
        report.spec, directory, intent=intent, intent_path=intent_path, kit=kit
    )
    progress("tests")
    tests = sandbox_for(directory).run_tests(directory)
    return BuildOutcome(
        service_name=intent.service_name,
        spec=report,
        generated=generated,
        tests=tests,
        files=collect_files(directory),
    )
