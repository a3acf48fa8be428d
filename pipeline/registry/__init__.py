"""The service registry: where running services are found, with their health and provenance.

Its HTTP API (seed port 8000) is at the edge: `bot.registry_api`.
"""

from pipeline.registry.model import Provenance, RegistryEntry, Replica, ServiceStatus
from pipeline.registry.store import DEFAULT_TTL, RegistryStore
from pipeline.registry.tokens import load_or_create_token

__all__ = [
    "DEFAULT_TTL",
    "Provenance",
    "RegistryEntry",
    "RegistryStore",
    "Replica",
    "ServiceStatus",
    "load_or_create_token",
]
