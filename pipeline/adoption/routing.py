"""One repository's stage routing for a build: `line/stages.yaml` (what people adopted), the registry (where
each adopted service answers now), suspensions (services the line stopped routing to after failures), and
the operator's own routing (INTENTOPS_STAGES), which wins where it names a stage.

A stage whose adopted service is not registered, is gone, or is suspended runs built in, and the plan
says why; nothing here fails a build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from pipeline.adoption.fallback import AdoptedStages
from pipeline.adoption.health import StageHealth
from pipeline.adoption.stagefile import StageFile, StageRoute
from pipeline.factory.clients import DEFAULT_TIMEOUT_S, StageEndpoint
from pipeline.factory.contracts import Stage
from pipeline.factory.routing import BUILTIN, StageRegistry
from pipeline.registry.model import ServiceStatus
from pipeline.registry.store import RegistryStore

NOT_REGISTERED = "{service} is not registered (is it deployed?)"
NOT_SIGNED_OFF = "the change that names {service} was not merged with a complete sign-off"
GONE = "{service} is gone from the registry"
SUSPENDED = "{service} is suspended: {reason}"
OPERATOR = "INTENTOPS_STAGES routes it to {url}"


@dataclass(frozen=True)
class StagePlan:
    """Who serves each stage in a build, and why a stage the file routes to a service runs built in."""

    services: dict[Stage, str] = field(default_factory=dict)
    """Stage -> the adopted service serving it in this build."""
    builtin_because: dict[Stage, str] = field(default_factory=dict)


def plan_stages(
    stage_file: StageFile,
    *,
    repo: str,
    registry: RegistryStore,
    health: StageHealth,
    token: SecretStr | None,
    operator: StageRegistry | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    approved: Callable[[Stage, StageRoute], bool] = lambda _stage, _route: True,
) -> tuple[AdoptedStages, StagePlan]:
    """The stages a build of `repo` uses (with fallback), and the plan that explains them. `approved`:
    whether the change that named a route was merged signed off (`StageHistory.approved`); a route that was
    not (pushed straight to the branch, merged with one approval) runs built in."""
    endpoints: dict[Stage, StageEndpoint] = {}
    services: dict[Stage, str] = {}
    why: dict[Stage, str] = {}
    overridden = operator.endpoints if operator is not None else {}
    for stage in Stage:
        if stage in overridden:
            endpoints[stage] = overridden[stage]
            services[stage] = overridden[stage].url
            continue
        route = stage_file.route(stage)
        if route.service == BUILTIN:
            continue
        entry = registry.get(route.service)
        suspension = health.suspension(repo, stage.value, route.service)
        if not approved(stage, route):
            why[stage] = NOT_SIGNED_OFF.format(service=route.service)
        elif entry is None:
            why[stage] = NOT_REGISTERED.format(service=route.service)
        elif entry.status is ServiceStatus.GONE:
            why[stage] = GONE.format(service=route.service)
        elif suspension is not None:
            why[stage] = SUSPENDED.format(service=route.service, reason=suspension.reason)
        elif token is None or not token.get_secret_value():
            why[stage] = f"{route.service}: no stage token is configured (INTENTOPS_STAGE_TOKEN)"
        else:
            endpoints[stage] = StageEndpoint(entry.url, token, timeout_s)
            services[stage] = route.service
    adopted = AdoptedStages(endpoints=endpoints, services=services, repo=repo, health=health)
    return adopted, StagePlan(services=services, builtin_because=why)
