"""Blue/green as users see it: a client calling throughout a good deploy and a failed one sees no error."""

from __future__ import annotations

import dataclasses

from pipeline.deploy import Deployer, DeployOutcome, DeployRequest
from pipeline.registry import RegistryStore
from tests.deploy.conftest import MakeService
from tests.deploy.probe import Probe

V1, V2, V3 = "a" * 40, "b" * 40, "c" * 40


def test_no_request_fails_during_a_good_deploy_and_a_failed_one(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService
) -> None:
    deployer.config = dataclasses.replace(deployer.config, drain_seconds=1.0, health_timeout=4)
    assert deployer.deploy(DeployRequest(make_service("v1"), V1)).ok

    with Probe(registry, "hello-fixture") as probe:
        good = deployer.deploy(DeployRequest(make_service("v2", greeting="hej"), V2))
        failed = deployer.deploy(DeployRequest(make_service("v3", healthy=False), V3))

    assert good.outcome is DeployOutcome.DEPLOYED
    assert failed.outcome is DeployOutcome.FAILED
    assert probe.failures == []
    assert probe.versions[V1] > 0 and probe.versions[V2] > 0
    assert probe.versions[V3] == 0
