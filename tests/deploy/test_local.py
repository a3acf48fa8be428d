"""The local-process deployer with real processes: deploy, blue/green switch, rollback, undeploy, recovery."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from pipeline.deploy import Deployer, DeployOutcome, DeployRequest, RecoveryAction, UndeployOutcome
from pipeline.deploy.local import process_alive
from pipeline.registry import Provenance, RegistryStore, ServiceStatus
from pipeline.state import Database
from tests.deploy.conftest import MakeService, local_deployer

SHA_1 = "1" * 40
SHA_2 = "2" * 40
PROVENANCE = Provenance(
    intent_path="intents/hello-fixture.yaml", commit_sha=SHA_1, pr_number=3, approvers=("ann",)
)


def _hello(url: str) -> dict[str, str]:
    response = httpx.get(f"{url}/hello", timeout=5)
    response.raise_for_status()
    body: dict[str, str] = response.json()
    return body


def _wait_for(predicate: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_deploy_serves_the_service_and_records_it(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    result = deployer.deploy(DeployRequest(make_service("v1"), SHA_1, PROVENANCE))

    assert result.outcome is DeployOutcome.DEPLOYED, result.message
    assert result.url.startswith("http://127.0.0.1:")
    assert "Application startup complete" in result.log_tail, "a good deploy keeps its start-up log too"
    assert _hello(result.url) == {"message": "hello", "version": SHA_1}
    entry = registry.get("hello-fixture")
    assert entry is not None and entry.url == result.url and entry.version == SHA_1
    assert entry.provenance.pr_number == 3 and entry.provenance.spec_hash == "sha256:fixture"
    # The service registers itself and heartbeats over HTTP, so it stays healthy past the 5 s TTL.
    _wait_for(lambda: registry.get("hello-fixture").last_heartbeat > entry.last_heartbeat)  # type: ignore[union-attr]
    assert registry.get("hello-fixture").status is ServiceStatus.HEALTHY  # type: ignore[union-attr]


def test_the_same_version_twice_is_a_no_op(deployer: Deployer, make_service: MakeService) -> None:
    service = make_service("v1")
    first = deployer.deploy(DeployRequest(service, SHA_1))

    second = deployer.deploy(DeployRequest(service, SHA_1))

    assert second.outcome is DeployOutcome.UNCHANGED
    assert "already running" in second.message
    assert second.url == first.url
    assert len(deployer.records.for_name("hello-fixture")) == 1


def test_a_new_version_replaces_the_old_one(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    first = deployer.deploy(DeployRequest(make_service("v1"), SHA_1))
    old = deployer.records.active("hello-fixture")

    second = deployer.deploy(DeployRequest(make_service("v2", greeting="bonjour"), SHA_2))

    assert second.outcome is DeployOutcome.DEPLOYED and second.previous_version == SHA_1
    assert _hello(second.url)["message"] == "bonjour"
    assert old is not None and not process_alive(int(old.handle), old.started_marker)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first.url}/hello", timeout=2)
    assert [e.version for e in registry.versions("hello-fixture")] == [SHA_2]


@pytest.mark.parametrize("failure", ["unhealthy", "crash"])
def test_a_failing_version_is_rolled_back_and_the_old_one_keeps_serving(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService, failure: str
) -> None:
    good = deployer.deploy(DeployRequest(make_service("v1"), SHA_1))
    deployer.config = dataclasses.replace(deployer.config, health_timeout=3)
    bad_service = make_service("v2", healthy=failure != "unhealthy", crash=failure == "crash")

    result = deployer.deploy(DeployRequest(bad_service, SHA_2))

    assert result.outcome is DeployOutcome.FAILED
    assert "keeps serving" in result.message and SHA_1 in result.message
    expected_in_logs = "this build is broken" if failure == "crash" else "503"
    assert expected_in_logs in result.log_tail
    assert _hello(good.url)["version"] == SHA_1
    assert registry.get("hello-fixture").version == SHA_1  # type: ignore[union-attr]
    assert [i.version for i in deployer.records.for_name("hello-fixture")] == [SHA_1]


def test_a_first_deploy_that_fails_leaves_nothing_behind(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    deployer.config = dataclasses.replace(deployer.config, health_timeout=3)

    result = deployer.deploy(DeployRequest(make_service("v1", crash=True), SHA_1))

    assert result.outcome is DeployOutcome.FAILED and "nothing was serving before" in result.message
    assert deployer.records.all() == []
    assert registry.get("hello-fixture") is None


def test_a_folder_without_a_manifest_is_refused_with_its_path(deployer: Deployer, tmp_path: Path) -> None:
    result = deployer.deploy(DeployRequest(tmp_path, SHA_1))

    assert result.outcome is DeployOutcome.FAILED
    assert str(tmp_path / "service.yaml") in result.message
    assert deployer.records.all() == []


def test_a_manifest_name_that_is_not_a_dns_label_is_refused(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    result = deployer.deploy(DeployRequest(make_service("v1", name="Bad_Name"), SHA_1))

    assert result.outcome is DeployOutcome.FAILED and "not a DNS label" in result.message
    assert deployer.records.all() == [] and registry.entries() == []


def test_undeploy_stops_and_deregisters_and_is_idempotent(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    deployed = deployer.deploy(DeployRequest(make_service("v1"), SHA_1))
    instance = deployer.records.active("hello-fixture")

    removed = deployer.undeploy("hello-fixture")
    again = deployer.undeploy("hello-fixture")

    assert removed.outcome is UndeployOutcome.REMOVED
    assert again.outcome is UndeployOutcome.ABSENT and "nothing to do" in again.message
    assert instance is not None and not process_alive(int(instance.handle), instance.started_marker)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{deployed.url}/hello", timeout=2)
    assert registry.get("hello-fixture").status is ServiceStatus.GONE  # type: ignore[union-attr]


def test_a_restarted_bot_adopts_live_processes_and_restarts_dead_ones(
    database: Database,
    registry: RegistryStore,
    venvs: object,
    tmp_path: Path,
    registry_url: str,
    deployer: Deployer,
    make_service: MakeService,
) -> None:
    first = deployer.deploy(DeployRequest(make_service("v1"), SHA_1, PROVENANCE))
    instance = deployer.records.active("hello-fixture")
    assert instance is not None

    restarted_bot = local_deployer(database, registry, venvs, tmp_path, registry_url)  # type: ignore[arg-type]
    adopted = restarted_bot.recover()

    assert [(a.action, a.version) for a in adopted] == [(RecoveryAction.ADOPTED, SHA_1)]
    assert _hello(first.url)["version"] == SHA_1

    os.killpg(int(instance.handle), signal.SIGKILL)
    _wait_for(lambda: not restarted_bot.runtime.is_alive(instance))
    recovered = restarted_bot.recover()

    assert [(a.action, a.version) for a in recovered] == [(RecoveryAction.RESTARTED, SHA_1)]
    entry = registry.get("hello-fixture")
    assert entry is not None and entry.provenance.pr_number == 3
    assert _hello(entry.url)["version"] == SHA_1
    assert len(restarted_bot.records.for_name("hello-fixture")) == 1


def test_a_restarted_bot_restarts_a_live_process_that_no_longer_answers(
    database: Database,
    registry: RegistryStore,
    venvs: object,
    tmp_path: Path,
    registry_url: str,
    deployer: Deployer,
    make_service: MakeService,
) -> None:
    first = deployer.deploy(DeployRequest(make_service("v1"), SHA_1, PROVENANCE))
    hung = deployer.records.active("hello-fixture")
    assert hung is not None
    os.killpg(int(hung.handle), signal.SIGSTOP)  # alive as a process, deaf as a service

    restarted_bot = local_deployer(database, registry, venvs, tmp_path, registry_url)  # type: ignore[arg-type]
    restarted_bot.config = dataclasses.replace(restarted_bot.config, adopt_timeout=1.0)
    recovered = restarted_bot.recover()

    assert [(a.action, a.version) for a in recovered] == [(RecoveryAction.RESTARTED, SHA_1)]
    assert not process_alive(int(hung.handle), hung.started_marker)
    entry = registry.get("hello-fixture")
    assert entry is not None and entry.url != first.url
    assert _hello(entry.url)["version"] == SHA_1
    assert [i.handle for i in restarted_bot.records.for_name("hello-fixture")] != [hung.handle]


def test_recovery_points_the_registry_back_at_the_live_version(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    first = deployer.deploy(DeployRequest(make_service("v1"), SHA_1, PROVENANCE))
    # A switch cut short: the registry already names v2, which never came up.
    registry.announce(
        name="hello-fixture",
        version=SHA_2,
        url="http://127.0.0.1:9",
        health_path="/health",
        provenance=PROVENANCE,
    )
    registry.activate("hello-fixture", SHA_2)

    actions = deployer.recover()

    assert [(a.action, a.version) for a in actions] == [(RecoveryAction.ADOPTED, SHA_1)]
    entry = registry.get("hello-fixture")
    assert entry is not None and entry.version == SHA_1 and entry.url == first.url
    assert entry.provenance.pr_number == 3


def test_concurrent_deploys_of_one_service_queue_and_leave_one_version_running(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    services = {SHA_1: make_service("v1"), SHA_2: make_service("v2", greeting="salut")}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda sha: deployer.deploy(DeployRequest(services[sha], sha)), services))

    assert all(r.outcome is DeployOutcome.DEPLOYED for r in results), [r.message for r in results]
    [instance] = deployer.records.for_name("hello-fixture")
    assert deployer.runtime.is_alive(instance)
    entry = registry.get("hello-fixture")
    assert entry is not None and entry.version == instance.version and entry.url == instance.url
    assert [e.version for e in registry.versions("hello-fixture")] == [instance.version]
    # The version that lost the race was replaced, not left running.
    assert {r.previous_version for r in results} == {None, next(v for v in services if v != instance.version)}
