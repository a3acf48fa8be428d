"""Intents: the YAML files that ask the line for a service."""

from pipeline.intents.hints import (
    ActionHint,
    Aggregate,
    AggregateHint,
    EndpointHint,
    FieldType,
    HttpMethod,
    OnDelete,
    Op,
    QueryHint,
    RedirectHint,
    RelationHint,
    ResourceHint,
)
from pipeline.intents.loader import (
    DEFAULT_MAX_BYTES,
    LocatedIntent,
    load_intent,
    load_intent_file,
    load_located_intent,
    load_located_intent_file,
    parse_intent_mapping,
)
from pipeline.intents.model import Intent, Priority, Storage, intent_json_schema
from pipeline.intents.owners import NameClaim, duplicate_names, name_claims, name_owners, owner_of
from pipeline.intents.problems import IntentProblem, InvalidIntent

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ActionHint",
    "Aggregate",
    "AggregateHint",
    "EndpointHint",
    "FieldType",
    "HttpMethod",
    "Intent",
    "IntentProblem",
    "InvalidIntent",
    "LocatedIntent",
    "NameClaim",
    "OnDelete",
    "Op",
    "Priority",
    "QueryHint",
    "RedirectHint",
    "RelationHint",
    "ResourceHint",
    "Storage",
    "duplicate_names",
    "intent_json_schema",
    "load_intent",
    "load_intent_file",
    "load_located_intent",
    "load_located_intent_file",
    "name_claims",
    "name_owners",
    "owner_of",
    "parse_intent_mapping",
]
