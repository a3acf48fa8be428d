"""Services reading the line's own data: the intent says which data (`data_sources`) and what each
endpoint reports from it (`reports`), with file:line errors; the SPEC says in words what each endpoint
answers and that its tests run on recorded pages; the deployer hands the read API's address and a
read-only token only to a service that declares the line's history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.factory.analyzer import (
    describe_reports,
    expected_reports,
    generate_report_service,
    report_intent,
)
from pipeline.factory.builtin import builtin_stages
from pipeline.history.access import (
    DATA_SOURCES_FILE,
    ENV_HISTORY_TOKEN,
    ENV_HISTORY_URL,
    history_environment,
    reader_token,
)
from pipeline.intents import InvalidIntent, load_intent
from pipeline.intents.datasources import Report
from pipeline.stagekit import stage_kit
from tests.conftest import EXAMPLES

SOURCE = "intents/spec-analyzer.yaml"
HEAD = "service_name: spec-analyzer\npurpose: Analyze SPEC quality trends and suggest improvements\n"


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        ("reports:\n  - {path: /spec-trends, report: spec-trends}\n", ":4:", "add it to data_sources"),
        ("data_sources: [line-history]\n", ":3:", "no endpoint reports from it"),
        ("data_sources: [ledger-db]\n", ":3:", "line-history"),
        (
            "data_sources: [line-history]\nreports:\n  - {path: /health, report: spec-trends}\n",
            ":5:",
            "the service's own",
        ),
        (
            "data_sources: [line-history]\nreports:\n  - {path: /a, report: spec-trends}\n"
            "  - {path: /b, report: spec-trends}\n",
            ":6:",
            "'spec-trends' is served twice",
        ),
        (
            "data_sources: [line-history]\nreports:\n  - {path: /a, report: spec-trends}\n"
            "endpoints:\n  - {method: GET, path: /b, summary: b}\n",
            ":7:",
            "serves only its reports: remove endpoints",
        ),
    ],
)
def test_data_sources_and_reports_are_checked_with_file_and_line(body: str, where: str, says: str) -> None:
    with pytest.raises(InvalidIntent) as raised:
        load_intent(HEAD + body, source=SOURCE)
    assert f"{SOURCE}{where}" in str(raised.value) and says in str(raised.value), str(raised.value)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    intent = load_intent((EXAMPLES / "intents" / "spec-analyzer.yaml").read_text(), source=SOURCE)
    stages = builtin_stages(None)
    blueprint = (EXAMPLES / "BLUEPRINT.md").read_text()
    draft = stages.builder.build(report_intent(intent), blueprint=blueprint, intent_path=SOURCE)
    kit = stage_kit()
    report = stages.optimizer.optimize(describe_reports(draft, intent, kit=kit), gate=90, max_rounds=3)
    assert stages.verifier.verify(report.spec).score >= 90
    directory = tmp_path_factory.mktemp("services") / "spec-analyzer"
    generate_report_service(report.spec, directory, intent=intent, intent_path=SOURCE, kit=kit)
    return directory


def test_the_spec_says_what_each_endpoint_reports_and_its_tests_use_recorded_pages(generated: Path) -> None:
    spec = (generated / "SPEC.md").read_text()
    assert Report.SPEC_TRENDS.says in spec and Report.SPEC_BUILDER_SUGGESTION.says in spec
    assert "GET /history/intents (following next_cursor)" in spec
    assert "recorded history of 6 SPECs over 2 ISO weeks, in pages of 2" in spec
    recorded = json.loads((generated / "tests" / "history_pages.json").read_text())
    assert len(recorded["pages"]) > 2 and recorded["expected"] == expected_reports(recorded["pages"])
    trends = recorded["expected"]["spec-trends"]
    assert [f["code"] for f in trends["findings"]] == ["vague-word", "no-metrics", "no-latency"]
    assert recorded["expected"]["spec-builder-suggestion"]["suggested_intent"].count("spec-builder-v2") == 1
    assert json.loads((generated / DATA_SOURCES_FILE).read_text())["data_sources"] == ["line-history"]
    assert "intentops-stagekit==" in (generated / "requirements.txt").read_text()


def test_only_a_service_declaring_the_history_gets_its_address_and_a_reader_token(
    generated: Path, tmp_path: Path
) -> None:
    given = history_environment(generated, history_url="http://127.0.0.1:8214/", stage_token="line-secret")
    assert given == {ENV_HISTORY_URL: "http://127.0.0.1:8214", ENV_HISTORY_TOKEN: reader_token("line-secret")}
    assert reader_token("line-secret") not in {"", "line-secret", reader_token("another-secret")}
    assert history_environment(tmp_path, history_url="http://127.0.0.1:8214", stage_token="line-secret") == {}
    assert history_environment(generated, history_url="http://127.0.0.1:8214", stage_token="") == {}
