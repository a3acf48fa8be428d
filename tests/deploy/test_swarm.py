"""The Docker Swarm backend on this machine's one-node swarm: a service per version with the intent's
replicas, blue/green with no failed request during a good deploy nor a failed one, the failed version's log
tail, Swarm's own rolling update of the serving service rolled back by itself when the new build fails its
health check, every replica in the registry, secrets read from files, adoption after a restart, reconcile and
undeploy. One scenario (tests/fixtures/swarm.py) runs once; each test reads what it saw."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pipeline.codegen.generator import generate_service
from pipeline.deploy import DeployOutcome, RecoveryAction, UndeployOutcome
from pipeline.deploy.reconcile import DriftKind
from pipeline.intents import InvalidIntent, load_intent
from pipeline.registry import ServiceStatus
from pipeline.spec.builder import build_spec
from tests.fixtures.swarm import REPLICAS, SwarmScenario

INTENT = "service_name: {name}\npurpose: Keep a list of notes for the team.\n"


def test_the_intent_s_replicas_become_the_spec_s() -> None:
    intent = load_intent(INTENT.format(name="notes") + "replicas: 3\n", source="intents/notes.yaml")

    assert build_spec(intent).deployment.replicas == 3
    assert build_spec(load_intent(INTENT.format(name="notes"), source="n.yaml")).deployment.replicas == 1


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("storage: sqlite\nreplicas: 2\n", "storage sqlite has one writer"),
        ("replicas: 11\n", "replicas"),
        ("replicas: 0\n", "replicas"),
        ("replicas: '2'\n", "replicas"),
    ],
)
def test_replicas_an_engine_cannot_honour_are_refused_with_the_reason(extra: str, says: str) -> None:
    with pytest.raises(InvalidIntent) as refused:
        load_intent(INTENT.format(name="notes") + extra, source="intents/notes.yaml")

    assert says in str(refused.value) and "intents/notes.yaml" in str(refused.value)


def _generated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    intent = load_intent(INTENT.format(name="notes"), source="intents/notes.yaml")
    service = generate_service(build_spec(intent), tmp_path / "notes").directory
    loader = importlib.util.spec_from_file_location("notes_config", service / "app" / "config.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    monkeypatch.setitem(sys.modules, "notes_config", module)  # dataclasses look their module up there
    loader.loader.exec_module(module)
    return module


def test_a_generated_service_reads_its_token_from_the_file_swarm_mounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _generated_config(tmp_path, monkeypatch)
    secret = tmp_path / "registry_token"
    secret.write_text("from-the-secret\n")

    from_file = config.ServiceConfig.from_env({"REGISTRY_TOKEN_FILE": str(secret)})
    from_value = config.ServiceConfig.from_env({"REGISTRY_TOKEN": "from-the-environment"})

    assert from_file.registry_token == "from-the-secret"
    assert from_value.registry_token == "from-the-environment"


def _a_good_deploy_and_a_failed_one_fail_no_request(swarm_scenario: SwarmScenario) -> None:
    s = swarm_scenario
    v1, v2, v3 = s.versions
    assert s.first.outcome is DeployOutcome.DEPLOYED, s.first.message
    assert s.good.outcome is DeployOutcome.DEPLOYED and s.good.previous_version == v1, s.good.message
    assert s.failed.outcome is DeployOutcome.FAILED
    assert "failed its health check" in s.failed.message and f"{s.name} {v2}" in s.failed.message
    assert "Started server process" in s.failed.log_tail  # the failing version's own log
    assert s.probe_failures == []
    assert s.probe_versions[v1] > 0 and s.probe_versions[v2] > 0 and v3 not in s.probe_versions
    assert s.entry.version == v2 and s.entry.url == s.good.url


def _each_version_is_a_swarm_service_with_the_intent_s_replicas(swarm_scenario: SwarmScenario) -> None:
    spec = swarm_scenario.service["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == REPLICAS
    assert spec["Labels"]["intentops.owner"] == swarm_scenario.owner
    assert spec["Labels"]["intentops.version"] == swarm_scenario.versions[1]
    task = spec["TaskTemplate"]
    assert task["ContainerSpec"]["Image"].startswith(f"{swarm_scenario.name}:{swarm_scenario.versions[1]}")
    assert task["ContainerSpec"]["Healthcheck"]["Test"][0] == "CMD"
    assert task["Resources"]["Limits"]["NanoCPUs"] == 1_000_000_000
    assert spec["UpdateConfig"]["Order"] == "start-first"
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert spec["RollbackConfig"]["Order"] == "start-first"


def _an_in_place_update_to_a_failing_build_rolls_back_by_itself(swarm_scenario: SwarmScenario) -> None:
    update, (_, v2, _) = swarm_scenario.in_place_update, swarm_scenario.versions
    assert update.state == "rollback_completed", update
    assert update.image_after.startswith(f"{swarm_scenario.name}:{v2}"), update
    assert update.tasks_running == REPLICAS
    assert swarm_scenario.in_place_failures == [] and swarm_scenario.in_place_calls > 0


def _the_registry_records_every_replica(swarm_scenario: SwarmScenario) -> None:
    replicas = swarm_scenario.entry.replicas
    running = {task["ID"] for task in swarm_scenario.service_tasks}
    assert len(replicas) == REPLICAS
    assert {r.task_id for r in replicas} == running
    assert all(r.state == "running" and r.node and r.address for r in replicas)
    assert sorted(r.slot for r in replicas) == list(range(1, REPLICAS + 1))


def _services_read_their_registry_token_from_a_swarm_secret(swarm_scenario: SwarmScenario) -> None:
    environment = swarm_scenario.service["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "REGISTRY_TOKEN_FILE=/run/secrets/registry_token" in environment
    assert not any(variable.startswith("REGISTRY_TOKEN=") for variable in environment)
    assert len(swarm_scenario.secrets) == 1
    # Its heartbeats carry the token read from the file: the registry accepts them.
    assert swarm_scenario.heartbeat_after_switch


def _with_an_image_prefix_the_image_is_pushed_for_the_nodes_or_the_deploy_says_why(
    swarm_scenario: SwarmScenario,
) -> None:
    name, version = swarm_scenario.name, swarm_scenario.versions[1]
    assert f"could not push 127.0.0.1:9/team/{name}:{version}" in swarm_scenario.push_refused


def _a_restarted_bot_adopts_the_serving_service(swarm_scenario: SwarmScenario) -> None:
    adopted = [(a.action, a.version) for a in swarm_scenario.adopted]
    assert adopted == [(RecoveryAction.ADOPTED, swarm_scenario.versions[1])]


def _reconcile_removes_only_this_installation_s_strays(swarm_scenario: SwarmScenario) -> None:
    strays = [d.name for d in swarm_scenario.reconciled.drift if d.kind is DriftKind.STRAY]
    assert strays == [f"{swarm_scenario.name}-stray"]
    assert not swarm_scenario.stray_left
    assert swarm_scenario.foreign_left


def _the_docker_backend_takes_no_swarm_container_for_its_own(swarm_scenario: SwarmScenario) -> None:
    # Else switching an installation from swarm to docker would reconcile its tasks and gateways away.
    assert swarm_scenario.docker_backend_saw == []


def _undeploy_removes_services_gateways_and_secrets(swarm_scenario: SwarmScenario) -> None:
    assert swarm_scenario.undeployed.outcome is UndeployOutcome.REMOVED
    assert swarm_scenario.undeployed_entry is not None
    assert swarm_scenario.undeployed_entry.status is ServiceStatus.GONE
    assert swarm_scenario.undeployed_entry.replicas == ()
    assert swarm_scenario.left_behind == []


CHECKS = (
    _a_good_deploy_and_a_failed_one_fail_no_request,
    _each_version_is_a_swarm_service_with_the_intent_s_replicas,
    _an_in_place_update_to_a_failing_build_rolls_back_by_itself,
    _the_registry_records_every_replica,
    _services_read_their_registry_token_from_a_swarm_secret,
    _with_an_image_prefix_the_image_is_pushed_for_the_nodes_or_the_deploy_says_why,
    _a_restarted_bot_adopts_the_serving_service,
    _reconcile_removes_only_this_installation_s_strays,
    _the_docker_backend_takes_no_swarm_container_for_its_own,
    _undeploy_removes_services_gateways_and_secrets,
)


@pytest.mark.docker
@pytest.mark.xdist_group("docker")
def test_the_swarm_backend_on_a_one_node_swarm(
    swarm_scenario: SwarmScenario, subtests: pytest.Subtests
) -> None:
    """One test over the scenario, each check a subtest: the scenario's tests stay on one xdist worker."""
    for check in CHECKS:
        with subtests.test(check.__name__.strip("_").replace("_", " ")):
            check(swarm_scenario)
