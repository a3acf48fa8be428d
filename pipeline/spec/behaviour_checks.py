"""Whether an endpoint's behaviour fits the SPEC's data model (a model may write a SPEC by hand), and which
hint would turn a placeholder into real behaviour."""

from __future__ import annotations

import re

from pipeline.intents import FieldType
from pipeline.spec.model import (
    ActionBehaviour,
    AggregateBehaviour,
    Condition,
    Endpoint,
    Entity,
    QueryBehaviour,
    RedirectBehaviour,
    RelatedBehaviour,
    Spec,
    StaticBehaviour,
)

KIND_OF_OPERATION = {
    "query": QueryBehaviour,
    "aggregate": AggregateBehaviour,
    "action": ActionBehaviour,
    "redirect": RedirectBehaviour,
    "static": StaticBehaviour,
    "related": RelatedBehaviour,
}
NUMERIC = frozenset({FieldType.INTEGER, FieldType.NUMBER})
_PARAM = re.compile(r"\{([^}]*)\}")


def fixing_hint(method: str, path: str) -> str:
    """The hint kinds that fit an endpoint's method and path, in the intent's words."""
    params = _PARAM.findall(path)
    if method == "GET" and not params:
        return (
            "a `query` (rows that match), an `aggregate` (count, sum, min, max) or `respond` (a fixed answer)"
        )
    if method == "GET" and len(params) == 1:
        return "a `query` with `single: true` (one row by a field), or a `redirect` (to a stored URL)"
    if method == "GET":
        return "a `query` whose conditions use every path parameter"
    if method in {"POST", "PUT", "PATCH"} and len(params) == 1:
        return "an `action` (set fields, increment counters of the row the path names)"
    if method == "POST":
        return "`resource: <name>` (it then creates one)"
    return "`resource: <name>` on a path with an id (it then deletes one)"


def behaviour_problems(spec: Spec, endpoint: Endpoint) -> list[str]:
    """Why `endpoint`'s behaviour cannot be generated from this SPEC (empty when it can)."""
    behaviour = endpoint.behaviour
    wanted = KIND_OF_OPERATION[endpoint.operation]
    if not isinstance(behaviour, wanted):
        return [f"a '{endpoint.operation}' endpoint needs a behaviour of kind '{endpoint.operation}'"]
    if isinstance(behaviour, StaticBehaviour):
        return []
    entity = spec.entity(endpoint.resource or "")
    if entity is None:
        return []  # reported as an unknown resource
    params = _PARAM.findall(endpoint.path)
    if isinstance(behaviour, QueryBehaviour):
        fields = [c.field for c in behaviour.where] + [k.field for k in behaviour.order]
        return _unknown(entity, fields) + _params(behaviour.where, params)
    if isinstance(behaviour, AggregateBehaviour):
        fields = [c.field for c in behaviour.where] + [f for f in (behaviour.field, behaviour.group_by) if f]
        return _unknown(entity, fields) + _params(behaviour.where, params)
    if isinstance(behaviour, ActionBehaviour):
        fields = [behaviour.lookup, *(a.field for a in behaviour.set)]
        return _unknown(entity, fields) + _numeric(entity, behaviour) + _one_param(params)
    if isinstance(behaviour, RedirectBehaviour):
        problems = _unknown(entity, [behaviour.lookup, behaviour.to]) + _numeric(entity, behaviour)
        target = entity.field(behaviour.to)
        if target is not None and target.type is not FieldType.URL:
            problems.append(f"the redirect target '{behaviour.to}' must be a url field")
        return problems + _one_param(params)
    return _related(spec, entity, behaviour, params)


def _unknown(entity: Entity, fields: list[str]) -> list[str]:
    known = {f.name for f in entity.fields} | {"id"}
    missing = [name for name in dict.fromkeys(fields) if name not in known]
    return [f"'{name}' is not a field of {entity.name}" for name in missing]


def _numeric(entity: Entity, behaviour: ActionBehaviour | RedirectBehaviour) -> list[str]:
    problems = []
    for increment in behaviour.increment:
        field = entity.field(increment.field)
        if field is None:
            problems.append(f"'{increment.field}' is not a field of {entity.name}")
        elif field.type not in NUMERIC:
            problems.append(f"'{increment.field}' is a {field.type.value}; only a number can be incremented")
    return problems


def _params(where: list[Condition], params: list[str]) -> list[str]:
    used = {str(c.value) for c in where if c.source == "param"}
    problems = [f"a condition reads {{{name}}}, which the path does not have" for name in used - set(params)]
    problems += [f"no condition reads the path parameter {{{name}}}" for name in params if name not in used]
    return problems


def _one_param(params: list[str]) -> list[str]:
    return [] if len(params) == 1 else [f"it finds its row by one path parameter; the path has {len(params)}"]


def _related(spec: Spec, entity: Entity, behaviour: RelatedBehaviour, params: list[str]) -> list[str]:
    problems = _unknown(entity, [behaviour.field]) + _one_param(params)
    if spec.entity(behaviour.parent) is None:
        problems.append(f"the parent '{behaviour.parent}' is not in the data model")
    return problems
