"""Cost per service and per month: model calls, plus compute (build and sandbox seconds from the ledger's
stage durations, uptime from deploy to undeploy, Docker containers' CPU seconds and memory from their
sampled figures) priced by a rate card, in `intentops usage`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import output
from bot.cli.main import build_app
from pipeline.costs import RateCard, month_total, service_costs
from pipeline.deploy.samples import GB, ContainerSample, ContainerSampleRow, ContainerSamples, cpu_and_memory
from pipeline.ledger import Ledger, Outcome, Stage
from pipeline.llm import Usage
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.state import Database, default_sqlite_url

REPO = "acme/intents"
NOW = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
RATES = RateCard(build_second_usd=0.001, sandbox_second_usd=0.002, uptime_hour_usd=0.5)


def day(n: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, n, hour, 0, tzinfo=UTC)


def seed(database: Database) -> None:
    ledger = Ledger(database)
    for name in ("notes", "links"):
        record, _ = ledger.receive(
            repo=REPO, path=f"intents/{name}.yaml", service_name=name, content_hash=f"h-{name}"
        )
        ledger.record(record.id, Stage.SPEC, Outcome.SUCCEEDED, duration_ms=2000, at=day(1, 9))
        ledger.record(record.id, Stage.CODE, Outcome.SUCCEEDED, duration_ms=1000, at=day(1, 9))
        ledger.record(record.id, Stage.TESTS, Outcome.FAILED, duration_ms=4000, at=day(1, 9))
        ledger.record(record.id, Stage.DEPLOYED, Outcome.SUCCEEDED, at=day(1))
        if name == "notes":
            ledger.record(record.id, Stage.UNDEPLOYED, Outcome.SUCCEEDED, at=day(2))
    ledger.record(
        record.id, Stage.TESTS, Outcome.SUCCEEDED, duration_ms=9000, at=datetime(2026, 10, 30, tzinfo=UTC)
    )
    usage = UsageLedger(database, Budgets(per_intent_usd=10, monthly_usd=10), clock=lambda: day(3))
    reservation = usage.reserve(
        stage="spec", model="claude-haiku-4-5", budget_key=f"{REPO}:intents/links.yaml", estimate_usd=1
    )
    usage.settle(reservation, usage=Usage(input_tokens=10, output_tokens=1, cost_usd=0.25), message_id=None)


def test_each_service_costs_its_build_sandbox_uptime_and_model_calls(database: Database) -> None:
    seed(database)
    costs = {c.service: c for c in service_costs(database, month="2026-11", now=NOW, rates=RATES)}
    notes, links = costs["notes"], costs["links"]
    assert (notes.build_seconds, notes.sandbox_seconds, notes.uptime_hours) == (3.0, 4.0, 24.0)
    assert notes.compute_usd == pytest.approx(3 * 0.001 + 4 * 0.002 + 24 * 0.5)
    assert links.uptime_hours == 9 * 24, "still running: up until now"
    assert (links.llm_calls, links.llm_usd) == (1, 0.25)
    assert links.total_usd == pytest.approx(links.compute_usd + 0.25)
    october = {c.service: c for c in service_costs(database, month="2026-10", now=NOW, rates=RATES)}
    assert october["links"].sandbox_seconds == 9.0 and october["links"].uptime_hours == 0
    total = month_total(database, month="2026-11", now=NOW, rates=RATES)
    assert total.llm_usd == 0.25 and total.compute_usd == pytest.approx(notes.compute_usd + links.compute_usd)


def test_intentops_usage_shows_cost_per_service_priced_by_the_rate_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.out, "width", 200)  # a wide terminal, whatever the process started with
    database = Database(default_sqlite_url(tmp_path))
    database.create_all()
    seed(database)
    database.dispose()
    card = tmp_path / "rates.yaml"
    card.write_text("uptime_hour_usd: 0\nbuild_second_usd: 0.5\n")
    env = {
        "INTENTOPS_DATA_DIR": str(tmp_path),
        "INTENTOPS_RATE_CARD": str(card),
        "DATABASE_URL": None,
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(build_app(), ["usage", "--month", "2026-11", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    services = {s["service"]: s for s in report["services"]}
    assert services["notes"]["compute_usd"] == pytest.approx(3 * 0.5 + 4 * 0.00004)
    assert report["rate_card"]["uptime_hour_usd"] == 0 and report["spent_usd"] == 0.25
    text = CliRunner().invoke(build_app(), ["usage", "--month", "2026-11"], env=env)
    assert "Cost per service in 2026-11" in text.stdout and "compute $" in text.stdout
    assert "CPU s" in text.stdout and "memory GB·h" in text.stdout

    card.write_text("uptime_hour_usd: -1\n")
    refused = CliRunner().invoke(build_app(), ["usage"], env=env)
    assert refused.exit_code == 1 and "rates.yaml: line 1: uptime_hour_usd" in refused.stderr
    card.write_text("uptime_hours: 1\n")
    assert "uptime_hours: Extra inputs" in CliRunner().invoke(build_app(), ["usage"], env=env).stderr


def sample(
    container: str, started: datetime, at: datetime, cpu_s: float, memory_gb: float
) -> ContainerSample:
    return ContainerSample(container, "notes", "v1", started, at, int(cpu_s * 1e9), int(memory_gb * GB))


def test_containers_cost_their_cpu_seconds_and_memory_per_month_across_restarts(database: Database) -> None:
    samples = ContainerSamples(database)
    started, restarted = datetime(2026, 10, 31, 12, tzinfo=UTC), day(1, 18)
    for taken in (
        sample("a", started, day(1, 12), cpu_s=240, memory_gb=1),  # a day, half of it in October
        sample("a", started, day(1, 14), cpu_s=300, memory_gb=3),  # 60 s more; 2 GB on average for 2 h
        sample("a", restarted, day(1, 20), cpu_s=10, memory_gb=1),  # restarted: its counter began again
        sample("b", day(2, 9), day(2, 10), cpu_s=5, memory_gb=0.5),  # a second container of the service
    ):
        samples.add(taken)
    cards = RateCard(build_second_usd=0, sandbox_second_usd=0, uptime_hour_usd=0, cpu_second_usd=0.01)
    (notes,) = service_costs(database, month="2026-11", now=NOW, rates=cards)
    assert notes.cpu_seconds == pytest.approx(120 + 60 + 10 + 5)
    assert notes.memory_gb_hours == pytest.approx(12 * 1 + 2 * 2 + 2 * 1 + 1 * 0.5)
    assert notes.compute_usd == pytest.approx(195 * 0.01 + notes.memory_gb_hours * cards.memory_gb_hour_usd)
    (october,) = service_costs(database, month="2026-10", now=NOW, rates=cards)
    assert (october.cpu_seconds, october.memory_gb_hours) == pytest.approx((120, 12))

    long_ago, base = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 31, 10, tzinfo=UTC)
    for at, cpu_s in ((datetime(2026, 10, 20, tzinfo=UTC), 50), (base, 100), (day(1, 10), 148)):
        samples.add(
            ContainerSample("c", "links", "v1", long_ago, at, cpu_s * 10**9, 0, final=at == day(1, 10))
        )
    links = {c.service: c for c in service_costs(database, month="2026-11", now=NOW, rates=cards)}["links"]
    assert links.cpu_seconds == pytest.approx(48 * 10 / 24), "the day across the month's start, in part"


def test_the_engines_figures_leave_out_the_inactive_page_cache() -> None:
    cgroup_v2 = {
        "cpu_stats": {"cpu_usage": {"total_usage": 7}},
        "memory_stats": {"usage": 100, "stats": {"inactive_file": 30}},
    }
    cgroup_v1 = {
        "cpu_stats": {"cpu_usage": {"total_usage": 7}},
        "memory_stats": {"usage": 100, "stats": {"total_inactive_file": 40}},
    }
    assert cpu_and_memory(cgroup_v2) == (7, 70) and cpu_and_memory(cgroup_v1) == (7, 60)
    assert cpu_and_memory({"cpu_stats": {}, "memory_stats": {}}) == (0, 0), (
        "a stopped container reads nothing"
    )


def test_intentops_usage_says_when_the_running_containers_could_not_be_sampled(tmp_path: Path) -> None:
    env = {
        "INTENTOPS_DATA_DIR": str(tmp_path),
        "INTENTOPS_DEPLOY_BACKEND": "docker",
        "DOCKER_HOST": "tcp://127.0.0.1:9",
        "DATABASE_URL": None,
        "INTENTOPS_RATE_CARD": None,
    }
    result = CliRunner().invoke(build_app(), ["usage"], env=env)
    assert result.exit_code == 0, result.output
    assert "CPU and memory were not sampled (figures as of their last sample)" in result.stderr
    report = json.loads(CliRunner().invoke(build_app(), ["usage", "--format", "json"], env=env).stdout)
    assert report["containers_not_sampled"] and report["services"] == []


def test_live_samples_asked_for_every_minute_keep_about_one_an_hour_and_lose_no_cpu(
    database: Database,
) -> None:
    samples = ContainerSamples(database)
    started = day(3, 8)
    for minute in range(1, 181):  # three hours of a page asked for every minute: a CPU second a minute
        samples.add(sample("a", started, started + timedelta(minutes=minute), cpu_s=minute, memory_gb=1))
    samples.add(
        ContainerSample(
            "a", "notes", "v1", started, started + timedelta(hours=3, minutes=30), 200 * 10**9, GB, final=True
        )
    )
    with database.session() as session:
        kept = session.scalar(select(func.count()).select_from(ContainerSampleRow))
    assert kept is not None and kept <= 6, kept
    (notes,) = service_costs(database, month="2026-11", now=NOW, rates=RATES)
    assert notes.cpu_seconds == pytest.approx(200) and notes.memory_gb_hours == pytest.approx(3.5)
