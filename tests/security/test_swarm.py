"""Attacks on the Docker Swarm backend, reproduced on this machine's one-node swarm (the scenario of
tests/fixtures/swarm.py, run once):

- reading the line's tokens from the service spec: anyone allowed `docker service inspect` (or shown the
  spec in a log) would get the registry token; they are Swarm secrets, files in the task, never values;
- reaching a service from another machine: Swarm's ingress publishes a port on every interface of every
  node; nothing is published through it, and the gateway the line calls answers on 127.0.0.1 only;
- a compromised gateway: it runs as nobody, with a read-only root, no capabilities, no new privileges;
- one installation's reconcile removing another's services on a shared swarm.
"""

from __future__ import annotations

import json

import pytest

from tests.deploy.conftest import REGISTRY_TOKEN
from tests.fixtures.swarm import SwarmScenario


def _no_token_value_is_in_the_service_spec(swarm_scenario: SwarmScenario) -> None:
    shown = json.dumps(swarm_scenario.service)
    assert REGISTRY_TOKEN not in shown
    environment = swarm_scenario.service["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert [v.split("=")[0] for v in environment if "TOKEN" in v.split("=")[0]] == ["REGISTRY_TOKEN_FILE"]
    secrets = swarm_scenario.service["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert [s["File"]["Name"] for s in secrets] == ["registry_token"]
    assert all(s["File"]["Mode"] == 0o440 for s in secrets)


def _nothing_is_published_beyond_loopback(swarm_scenario: SwarmScenario) -> None:
    endpoint = swarm_scenario.service["Spec"]["EndpointSpec"]
    assert endpoint["Mode"] == "dnsrr" and not endpoint.get("Ports")
    assert not swarm_scenario.service.get("Endpoint", {}).get("Ports")
    bindings = swarm_scenario.gateway["HostConfig"]["PortBindings"]
    assert {b["HostIp"] for published in bindings.values() for b in published} == {"127.0.0.1"}
    # The serving version's port, asked on an address of this host that is not loopback: refused.
    assert swarm_scenario.non_loopback_refused, swarm_scenario.non_loopback_address


def _the_gateway_runs_with_no_privileges(swarm_scenario: SwarmScenario) -> None:
    config, host = swarm_scenario.gateway["Config"], swarm_scenario.gateway["HostConfig"]
    assert config["User"] == "65534:65534"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]


def _reconcile_leaves_another_installation_s_services_alone(swarm_scenario: SwarmScenario) -> None:
    assert swarm_scenario.foreign_left


ATTACKS = (
    _no_token_value_is_in_the_service_spec,
    _nothing_is_published_beyond_loopback,
    _the_gateway_runs_with_no_privileges,
    _reconcile_leaves_another_installation_s_services_alone,
)


@pytest.mark.docker
@pytest.mark.xdist_group("docker")
def test_attacks_on_the_swarm_backend_fail(swarm_scenario: SwarmScenario, subtests: pytest.Subtests) -> None:
    """One test over the shared scenario (tests/fixtures/swarm.py), each attack a subtest."""
    for attack in ATTACKS:
        with subtests.test(attack.__name__.strip("_").replace("_", " ")):
            attack(swarm_scenario)
