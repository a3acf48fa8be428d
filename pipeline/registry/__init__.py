"""The service registry: where running services are found, with their health and provenance."""

from pipeline.registry.api import SEED_PORT, create_registry_app
from pipeline.registry.model import Provenance, RegistryEntry, ServiceStatus
from pipeline.registry.store import DEFAULT_TTL, RegistryStore
from pipeline.registry.tokens import load_or_create_token

__all__ = [
    "DEFAULT_TTL",
    "SEED_PORT",
    "Provenance",
    "RegistryEntry",
    "RegistryStore",
    "ServiceStatus",
    "create_registry_app",
    "load_or_create_token",
]
