"""A stage service deployed with the local deployer, as a merge deploys it: its own venv from the wheelhouse
(stage kit included), registered with the real registry, and answering the line's own HTTP client for its
stage with the stage token the deployer hands it (and nobody else)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.registry_api import create_registry_app
from pipeline.deploy import (
    Backend,
    Deployer,
    DeployerConfig,
    DeploymentRecords,
    LocalProcessRuntime,
    WheelhouseVenvs,
)
from pipeline.deploy.bridge import listen
from pipeline.deploy.model import DeployRequest
from pipeline.factory.clients import HttpSpecBuilder, StageEndpoint, StageFailure, StageUnavailable
from pipeline.factory.conformance import BUILD_CASES, GREETINGS, check_builder
from pipeline.factory.stages import CONTRACT_VERSION
from pipeline.factory.stageservice import describe_stage, generate_stage_service, spec_intent
from pipeline.intents import load_intent_file
from pipeline.registry import RegistryStore, ServiceStatus
from pipeline.spec.builder import build_spec
from pipeline.state import Database
from pipeline.wheelhouse import prepare_wheelhouse
from tests.conftest import EXAMPLES, ROOT
from tests.deploy.conftest import serve_listeners

WHEELHOUSE = ROOT / ".data" / "wheelhouse"
REGISTRY_TOKEN = "stage-deploy-registry-token"
STAGE_TOKEN = "stage-deploy-stage-token"
NAME = "spec-builder-v2"


@pytest.fixture
def registry(database: Database) -> RegistryStore:
    return RegistryStore(database, ttl=timedelta(seconds=5))


@pytest.fixture
def deployer(database: Database, registry: RegistryStore, tmp_path: Path) -> Iterator[Deployer]:
    prepare_wheelhouse(WHEELHOUSE)
    app = create_registry_app(registry, SecretStr(REGISTRY_TOKEN))
    with serve_listeners(listen(app, "127.0.0.1", 0)) as registry_url:
        runtime = LocalProcessRuntime(
            WheelhouseVenvs(WHEELHOUSE, ROOT / ".data" / "venvs"), tmp_path / "logs"
        )
        config = DeployerConfig(
            data_dir=tmp_path / "service-data",
            registry_url=registry_url,
            registry_token=REGISTRY_TOKEN,
            heartbeat_seconds=0.5,
            health_timeout=30,
            drain_seconds=0.1,
            stage_token=STAGE_TOKEN,
        )
        built = Deployer(runtime, DeploymentRecords(database, Backend.LOCAL), registry, config)
        yield built
        for instance in built.records.all():  # never leave a process behind
            built.runtime.stop(instance)


@pytest.fixture
def service_dir(tmp_path: Path) -> Path:
    intent = load_intent_file(EXAMPLES / "intents" / f"{NAME}.yaml")
    blueprint = (EXAMPLES / "BLUEPRINT.md").read_text(encoding="utf-8")
    spec = describe_stage(build_spec(spec_intent(intent), blueprint=blueprint), intent)
    service, _ = generate_stage_service(
        spec, tmp_path / NAME, intent=intent, intent_path=f"intents/{NAME}.yaml"
    )
    return service.directory


def test_a_deployed_stage_service_registers_and_answers_the_line(
    deployer: Deployer, registry: RegistryStore, service_dir: Path
) -> None:
    result = deployer.deploy(DeployRequest(service_dir, "c0ffee1"))
    assert result.ok, result.message + "\n" + result.log_tail
    entry = registry.get(NAME)
    assert entry is not None and entry.version == "c0ffee1" and entry.status is ServiceStatus.HEALTHY
    health = httpx.get(result.url + "/health", timeout=5).json()
    assert (health["stage"], health["contract_version"]) == ("spec-builder", CONTRACT_VERSION)
    contract = httpx.get(result.url + "/contract", timeout=5).json()
    assert contract["route"] == "/build" and "wording" in contract["hints"]

    builder = HttpSpecBuilder(StageEndpoint(entry.url, SecretStr(STAGE_TOKEN), timeout_s=60))
    assert check_builder(builder, BUILD_CASES[0]) == []
    spec = builder.build(GREETINGS.intent(), intent_path=GREETINGS.intent_path)
    assert spec.security[0].startswith("Greetings reads request bodies of at most 64 KiB")

    stranger = HttpSpecBuilder(StageEndpoint(entry.url, SecretStr(REGISTRY_TOKEN), timeout_s=60))
    with pytest.raises(StageUnavailable) as refused:
        stranger.build(GREETINGS.intent())
    assert refused.value.failure is StageFailure.REFUSED and "401" in str(refused.value)
