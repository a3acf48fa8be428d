"""Deployers: blue/green over local processes or Docker, with undeploy, recovery and reconciliation."""

from pipeline.deploy.deployer import Deployer, DeployerConfig
from pipeline.deploy.local import LocalProcessRuntime
from pipeline.deploy.model import (
    Backend,
    DeployOutcome,
    DeployRequest,
    DeployResult,
    Instance,
    Recovery,
    RecoveryAction,
    UndeployOutcome,
    UndeployResult,
)
from pipeline.deploy.records import DeploymentRecords
from pipeline.deploy.runtime import Runtime
from pipeline.deploy.venvs import VenvError, VenvProvider, WheelhouseVenvs

__all__ = [
    "Backend",
    "DeployOutcome",
    "DeployRequest",
    "DeployResult",
    "Deployer",
    "DeployerConfig",
    "DeploymentRecords",
    "Instance",
    "LocalProcessRuntime",
    "Recovery",
    "RecoveryAction",
    "Runtime",
    "UndeployOutcome",
    "UndeployResult",
    "VenvError",
    "VenvProvider",
    "WheelhouseVenvs",
]
