"""Checks of the structured hints that need the whole intent: a hint names a declared resource and its
fields, a value fits its field's type, relations do not go round in a circle, an endpoint that says what it
does has a route of its own. Each problem is located from the intent's root (`endpoints.2.query.where.due`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pipeline.intents.hints import (
    NOW,
    NUMERIC_TYPES,
    ORDERED_TYPES,
    PARAM,
    PARAM_TYPES,
    RESERVED_PATHS,
    TEXT_TYPES,
    ActionHint,
    Aggregate,
    AggregateHint,
    EndpointHint,
    FieldType,
    Op,
    Problem,
    QueryHint,
    RedirectHint,
    ResourceHint,
    conditions,
    path_params,
    plural,
)

ID_IN_WHERE = "a query cannot filter on id (to read one row by id, use the generated GET /{many}/{{id}})"
RELATION_LITERAL = (
    "{field} holds a {parent}'s id: compare it with a path parameter ('{{param}}'), not a literal"
)


def check_hints(resources: list[ResourceHint], endpoints: list[EndpointHint]) -> list[Problem]:
    """Every problem of the hints that needs the whole intent, located from its root."""
    by_name = {resource.name: resource for resource in resources}
    problems = [*_resource_names(resources), *_relations(resources, by_name)]
    for index, resource in enumerate(resources):
        problems += _located(("resources", index), _seed(resource, by_name))
    for index, endpoint in enumerate(endpoints):
        problems += _located(("endpoints", index), _endpoint(endpoint, by_name))
    problems += _routes(resources, endpoints)
    return problems


def _located(prefix: tuple[str | int, ...], problems: Iterable[Problem]) -> list[Problem]:
    return [((*prefix, *loc), message) for loc, message in problems]


def _resource_names(resources: list[ResourceHint]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for index, resource in enumerate(resources):
        if resource.name in seen:
            problems.append(
                (
                    ("resources", index, "name"),
                    f"'{resource.name}' is declared twice (also resources[{seen[resource.name]}])",
                )
            )
        seen.setdefault(resource.name, index)
    return problems


def _relations(resources: list[ResourceHint], by_name: Mapping[str, ResourceHint]) -> list[Problem]:
    problems: list[Problem] = []
    for index, resource in enumerate(resources):
        for number, relation in enumerate(resource.belongs_to):
            if relation.resource not in by_name:
                where = ("resources", index, "belongs_to", number, "resource")
                problems.append((where, f"'{relation.resource}' is not declared under resources"))
    cycle = _cycle(resources, by_name)
    if cycle:
        index = next(i for i, r in enumerate(resources) if r.name == cycle[0])
        problems.append(
            (("resources", index, "belongs_to"), f"the relations go round in a circle: {' -> '.join(cycle)}")
        )
    return problems


def _cycle(resources: list[ResourceHint], by_name: Mapping[str, ResourceHint]) -> list[str]:
    """A chain of belongs_to that comes back to where it started (then no row could ever be created)."""
    for start in resources:
        chain = [start.name]
        current = start
        while current.belongs_to:
            parent = by_name.get(current.belongs_to[0].resource)
            if parent is None:
                break
            if parent.name in chain:
                return [*chain, parent.name]
            chain.append(parent.name)
            current = parent
    return []


def _seed(resource: ResourceHint, by_name: Mapping[str, ResourceHint]) -> list[Problem]:
    fields = resource.all_fields()
    problems: list[Problem] = []
    for row_index, row in enumerate(resource.seed):
        where: tuple[str | int, ...] = ("seed", row_index)
        missing = [name for name in resource.all_required() if row.get(name) is None]
        if missing:
            problems.append((where, f"misses required field(s): {', '.join(missing)}"))
        for name, value in row.items():
            if name not in fields:
                problems.append(
                    ((*where, name), f"'{name}' is not a field of {resource.name} ({_names(fields)})")
                )
            elif value is not None and (problem := type_problem(fields[name], value)):
                problems.append(((*where, name), problem))
        for relation in resource.belongs_to:
            parent = by_name.get(relation.resource)
            value = row.get(relation.field)
            if parent is not None and isinstance(value, int) and not 1 <= value <= len(parent.seed):
                message = f"{relation.resource} {value} is not among its {len(parent.seed)} seed row(s)"
                problems.append(((*where, relation.field), message))
    return problems


def type_problem(kind: FieldType, value: Any) -> str:
    """Why `value` cannot be stored in a field of type `kind` ('' when it can)."""
    fits = {
        FieldType.STRING: isinstance(value, str),
        FieldType.URL: isinstance(value, str) and url_problem(value) == "",
        FieldType.INTEGER: isinstance(value, int) and not isinstance(value, bool),
        FieldType.NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
        FieldType.BOOLEAN: isinstance(value, bool),
        FieldType.DATETIME: isinstance(value, str) and _is_datetime(value),
    }[kind]
    if fits:
        return ""
    if kind is FieldType.URL and isinstance(value, str):
        return url_problem(value)
    expected = {FieldType.DATETIME: "an ISO 8601 date-time", FieldType.URL: "an http(s) URL"}.get(
        kind, kind.value
    )
    return f"expected {expected}, got {value!r}"


def url_problem(value: str) -> str:
    """Why `value` is not an absolute http(s) URL a client may be sent to ('' when it is)."""
    if len(value) > 2048:
        return "a URL is at most 2048 characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "a URL has no spaces or control characters"
    match = re.match(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/?#@]+)", value)
    if match is None or match["scheme"].lower() not in {"http", "https"}:
        return f"expected an absolute http(s) URL, got {value[:60]!r}"
    return ""


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _names(fields: Mapping[str, FieldType]) -> str:
    return "fields: " + ", ".join(fields)


def _endpoint(endpoint: EndpointHint, by_name: Mapping[str, ResourceHint]) -> list[Problem]:
    kind = endpoint.kind
    if kind is None or kind == "respond":
        if endpoint.resource is not None and endpoint.resource not in by_name:
            return [(("resource",), f"'{endpoint.resource}' is not declared under resources")]
        return []
    hint = endpoint.behaviour
    assert hint is not None
    resource = by_name.get(hint.resource)
    if resource is None:
        return [((kind, "resource"), f"'{hint.resource}' is not declared under resources")]
    if endpoint.resource is not None and endpoint.resource != hint.resource:
        return [(("resource",), f"says '{endpoint.resource}' but the {kind} works on '{hint.resource}'")]
    params = path_params(endpoint.path)
    checks = {
        "query": lambda: _query(endpoint.query, resource, params),  # type: ignore[arg-type]
        "aggregate": lambda: _aggregate(endpoint.aggregate, resource, params),  # type: ignore[arg-type]
        "action": lambda: _action(endpoint.action, resource, params),  # type: ignore[arg-type]
        "redirect": lambda: _redirect(endpoint.redirect, resource, params),  # type: ignore[arg-type]
    }
    return _located((kind,), checks[kind]())


def _where(where: Mapping[str, Any], resource: ResourceHint, params: list[str]) -> list[Problem]:
    fields = resource.all_fields()
    parents = {relation.field: relation.resource for relation in resource.belongs_to}
    problems: list[Problem] = []
    used: set[str] = set()
    for name, op, value in conditions(where):
        at: tuple[str | int, ...] = ("where", name)
        if name == "id":
            problems.append((at, ID_IN_WHERE.format(many=plural(resource.name))))
            continue
        if name not in fields:
            problems.append((at, f"'{name}' is not a field of {resource.name} ({_names(fields)})"))
            continue
        problem, param = condition_problem(fields[name], op, value, params)
        if name in parents and not param and not problem:
            problem = RELATION_LITERAL.format(field=name, parent=parents[name])
        if problem:
            problems.append((at, problem))
        if param:
            used.add(param)
    unused = [p for p in params if p not in used]
    if unused:
        name = unused[0]
        hint = f"no condition uses the path parameter {{{name}}} (write {name}: '{{{name}}}' under the field "
        problems.append((("where",), hint + "it matches)"))
    return problems


def condition_problem(kind: FieldType, op: Op, value: Any, params: list[str]) -> tuple[str, str]:
    """(why the condition cannot hold, the path parameter it reads); ('', '') for a good literal."""
    if isinstance(value, str) and (match := PARAM.fullmatch(value)):
        name = match[1]
        if name not in params:
            return f"'{value}' names no parameter of the path", ""
        if kind not in PARAM_TYPES:
            return f"a path parameter cannot stand for a {kind.value}", name
        return "", name
    if op is Op.CONTAINS:
        if kind not in TEXT_TYPES:
            return f"contains compares text; this field is a {kind.value}", ""
        return ("contains needs some text", "") if value == "" else ("", "")
    if value is None:
        return ("", "") if op in {Op.EQ, Op.NE} else (f"{op.value} cannot compare with null", "")
    if op not in {Op.EQ, Op.NE} and kind not in ORDERED_TYPES:
        return (
            f"{op.value} needs an ordered field (number, date-time or text); this one is a {kind.value}",
            "",
        )
    if kind is FieldType.DATETIME and isinstance(value, str) and NOW.match(value):
        return "", ""
    if isinstance(value, str) and value.startswith("now") and kind is not FieldType.DATETIME:
        return "", ""  # the text 'now' in a text field is just text
    problem = type_problem(kind, value)
    if problem and kind is FieldType.DATETIME:
        problem += " (or 'now', 'now-7d', 'now+2h')"
    return problem, ""


def _order(order: list[str], resource: ResourceHint) -> list[Problem]:
    fields = resource.all_fields()
    problems: list[Problem] = []
    for index, item in enumerate(order):
        name = item.removeprefix("-")
        if name != "id" and name not in fields:
            problems.append(
                (("order", index), f"'{name}' is not a field of {resource.name} ({_names(fields)})")
            )
        elif name != "id" and fields[name] not in ORDERED_TYPES | {FieldType.BOOLEAN, FieldType.URL}:
            problems.append((("order", index), f"cannot sort by a {fields[name].value}"))
    return problems


def _query(hint: QueryHint, resource: ResourceHint, params: list[str]) -> list[Problem]:
    return [*_where(hint.where, resource, params), *_order(hint.order, resource)]


def _aggregate(hint: AggregateHint, resource: ResourceHint, params: list[str]) -> list[Problem]:
    fields = resource.all_fields()
    problems = _where(hint.where, resource, params)
    if hint.field is not None:
        kind = fields.get(hint.field)
        wanted = NUMERIC_TYPES if hint.function is Aggregate.SUM else ORDERED_TYPES
        if kind is None:
            problems.append(
                (("field",), f"'{hint.field}' is not a field of {resource.name} ({_names(fields)})")
            )
        elif kind not in wanted:
            what = "a number" if hint.function is Aggregate.SUM else "a number, date-time or text"
            problems.append(
                (("field",), f"{hint.function.value} needs {what}; '{hint.field}' is a {kind.value}")
            )
    if hint.group_by is not None and hint.group_by not in fields:
        problems.append(
            (("group_by",), f"'{hint.group_by}' is not a field of {resource.name} ({_names(fields)})")
        )
    return problems


def _lookup(lookup: str, resource: ResourceHint) -> list[Problem]:
    fields = resource.all_fields()
    if lookup != "id" and lookup not in fields:
        return [(("lookup",), f"'{lookup}' is not a field of {resource.name} ({_names(fields)})")]
    if lookup != "id" and fields[lookup] not in PARAM_TYPES:
        return [(("lookup",), f"a path parameter cannot stand for a {fields[lookup].value}")]
    return []


def _action(hint: ActionHint, resource: ResourceHint, params: list[str]) -> list[Problem]:
    fields = resource.all_fields()
    problems = _lookup(hint.lookup, resource)
    problems += _keeps_lookup(hint.lookup, "set", hint.set) + _keeps_lookup(
        hint.lookup, "increment", hint.increment
    )
    for name, value in hint.set.items():
        at: tuple[str | int, ...] = ("set", name)
        if name not in fields:
            problems.append((at, f"'{name}' is not a field of {resource.name} ({_names(fields)})"))
        elif value is None and name in resource.all_required():
            problems.append((at, f"'{name}' is required; it cannot be set to null"))
        elif value is not None and (problem := _set_problem(fields[name], value)):
            problems.append((at, problem))
    problems += _increments(hint.increment, resource)
    return problems


def _keeps_lookup(lookup: str, section: str, changed: Mapping[str, Any]) -> list[Problem]:
    """A call must leave the field its row is found by as it was: the same URL must find the same row."""
    if lookup in changed:
        return [((section, lookup), f"changes '{lookup}', the field the path finds its row by (lookup)")]
    return []


def _set_problem(kind: FieldType, value: Any) -> str:
    if kind is FieldType.DATETIME and value == "now":
        return ""
    problem = type_problem(kind, value)
    return problem + " (or 'now')" if problem and kind is FieldType.DATETIME else problem


def _increments(increment: Mapping[str, int | float], resource: ResourceHint) -> list[Problem]:
    fields = resource.all_fields()
    problems: list[Problem] = []
    for name, amount in increment.items():
        at: tuple[str | int, ...] = ("increment", name)
        if name not in fields:
            problems.append((at, f"'{name}' is not a field of {resource.name} ({_names(fields)})"))
        elif fields[name] not in NUMERIC_TYPES or name in {r.field for r in resource.belongs_to}:
            problems.append((at, f"only a number can be incremented; '{name}' is a {fields[name].value}"))
        elif fields[name] is FieldType.INTEGER and isinstance(amount, float):
            problems.append((at, f"'{name}' is an integer; increment it by a whole number"))
    return problems


def _redirect(hint: RedirectHint, resource: ResourceHint, params: list[str]) -> list[Problem]:
    fields = resource.all_fields()
    problems = _lookup(hint.lookup, resource) + _keeps_lookup(hint.lookup, "increment", hint.increment)
    if hint.to not in fields:
        problems.append((("to",), f"'{hint.to}' is not a field of {resource.name} ({_names(fields)})"))
    elif fields[hint.to] is not FieldType.URL:
        problems.append(
            (
                ("to",),
                f"'{hint.to}' must be of type url (so only http(s) URLs are stored); it is a "
                f"{fields[hint.to].value}",
            )
        )
    return [*problems, *_increments(hint.increment, resource)]


# -- routes ------------------------------------------------------------------------------------------------


def route_shape(method: str, path: str) -> tuple[str, str]:
    """Two routes with the same shape answer the same requests: '/a/{x}' and '/a/{y}' are one route."""
    return method, PARAM.sub("{}", path)


def generated_routes(resources: list[ResourceHint]) -> dict[tuple[str, str], str]:
    """The routes the resources give (shape -> what serves it)."""
    routes: dict[tuple[str, str], str] = {
        route_shape("GET", "/health"): "the health check",
        route_shape("GET", "/metrics"): "the metrics",
    }
    for resource in resources:
        many = plural(resource.name)
        for method, path in (("POST", f"/{many}"), ("GET", f"/{many}")):
            routes[route_shape(method, path)] = f"the generated {method} /{many} of {resource.name}"
        for method in ("GET", "PATCH", "DELETE"):
            routes[route_shape(method, f"/{many}/{{id}}")] = (
                f"the generated {method} /{many}/{{id}} of {resource.name}"
            )
        for relation in resource.belongs_to:
            path = f"/{plural(relation.resource)}/{{id}}/{many}"
            routes[route_shape("GET", path)] = f"the generated list of {many} of a {relation.resource}"
    return routes


def _routes(resources: list[ResourceHint], endpoints: list[EndpointHint]) -> list[Problem]:
    """An endpoint that says what it does needs a route of its own (a free-text one on a generated route is
    that route, described again)."""
    taken = generated_routes(resources)
    problems: list[Problem] = []
    for index, endpoint in enumerate(endpoints):
        shape = route_shape(endpoint.method.value, endpoint.path)
        if endpoint.kind is None:
            continue
        if endpoint.path in RESERVED_PATHS:
            problems.append(
                (("endpoints", index, "path"), f"{endpoint.path} is served by the application itself")
            )
        elif shape in taken:
            problems.append(
                (
                    ("endpoints", index, "path"),
                    f"{endpoint.method.value} {endpoint.path} is {taken[shape]}; give it another path",
                )
            )
        taken.setdefault(shape, f"endpoints[{index}]'s route too")
    return problems
