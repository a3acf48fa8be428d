"""The bodies of the generated tests of hinted endpoints and relations: rows that must be kept and rows that
must be left out, the request, and the exact answer (ids in order, figures, changed fields, a Location).

Each function returns the test's lines (Python source, indented by the template). Rows are created
through the service's own create endpoints, parents first; the oracle in `samples` decides what each row
should do, so the test states the SPEC's meaning and the service's code must match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.codegen.samples import (
    PARAM_SAMPLES,
    ParentId,
    Relative,
    candidates,
    code_of,
    holds,
    normal,
    now_at_generation,
)
from pipeline.intents import Aggregate, FieldType
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

MISSING_ID = 999999
TARGET = "https://example.org/landing?ref=intentops"
OTHER_TARGET = "https://example.net/elsewhere"
BAD_URLS = (
    "javascript:alert(1)",
    "/relative/path",
    "https://example.org/a\r\nSet-Cookie: x=1",
    "ftp://example.org/f",
)
AGGREGATE_VALUES: dict[FieldType, tuple[Any, Any, Any]] = {
    FieldType.INTEGER: (3, 5, 11),
    FieldType.NUMBER: (1.5, 2.25, 4.0),
    FieldType.DATETIME: ("2020-01-01T00:00:00Z", "2021-06-01T00:00:00Z", "2022-12-31T00:00:00Z"),
    FieldType.STRING: ("alpha", "bravo", "charlie"),
    FieldType.URL: ("https://a.example/", "https://b.example/", "https://c.example/"),
}
OTHER = {FieldType.STRING: "p-other", FieldType.INTEGER: 42, FieldType.NUMBER: 3.5, FieldType.BOOLEAN: False}


class ScenarioError(ValueError):
    """A test cannot be written for this endpoint from the SPEC (the message says why)."""


def sample_value(kind: FieldType, name: str) -> Any:
    from pipeline.codegen.context import SAMPLE

    value = SAMPLE[kind]
    return value.format(name=name) if isinstance(value, str) else value


@dataclass
class Writer:
    """Writes one test's lines: rows created through the API (parents first), then the checks."""

    spec: Spec
    lines: list[str] = field(default_factory=list)
    parents: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """resource -> relation field -> the parent rows created for it (variable names)."""
    counter: int = 0

    def var(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def entity(self, name: str) -> Entity:
        entity = self.spec.entity(name)
        if entity is None:
            raise ScenarioError(f"'{name}' is not in the data model")
        return entity

    def create_path(self, resource: str) -> str:
        for ep in self.spec.endpoints:
            if ep.resource == resource and ep.operation == "create" and "{" not in ep.path:
                return ep.path
        raise ScenarioError(f"'{resource}' has no create endpoint to make test rows with")

    def get_path(self, resource: str) -> str | None:
        return next(
            (ep.path for ep in self.spec.endpoints if ep.resource == resource and ep.operation == "get"), None
        )

    def list_path(self, resource: str) -> str | None:
        return next(
            (ep.path for ep in self.spec.endpoints if ep.resource == resource and ep.operation == "list"),
            None,
        )

    def ensure_parents(self, resource: str, count: int = 2) -> dict[str, list[str]]:
        """Create `count` parent rows for each relation of `resource` (once per test)."""
        if resource in self.parents:
            return self.parents[resource]
        made: dict[str, list[str]] = {}
        for relation in self.entity(resource).relations:
            made[relation.field] = [self.create(relation.parent, {}) for _ in range(count)]
        self.parents[resource] = made
        return made

    def base(self, resource: str) -> dict[str, Any]:
        """A valid row: every required field with its sample, and each relation to the first parent."""
        entity = self.entity(resource)
        links = {r.field for r in entity.relations}
        values: dict[str, Any] = {}
        for f in entity.fields:
            if f.name in links:
                values[f.name] = ParentId(0)
            elif f.required:
                values[f.name] = sample_value(f.type, f.name)
        return values

    def body(self, resource: str, values: dict[str, Any]) -> str:
        parents = self.ensure_parents(resource)
        items = [f"{name!r}: {code_of(value, parents.get(name, []))}" for name, value in values.items()]
        return "{" + ", ".join(items) + "}"

    def create(self, resource: str, overrides: dict[str, Any], *, var: str | None = None) -> str:
        values = {**self.base(resource), **overrides}
        body = self.body(resource, values)
        name = var or self.var(resource)
        self.lines.append(f"{name} = post_row(client, {self.create_path(resource)!r}, {body})")
        return name

    def url(self, path: str, params: dict[str, Any], resource: str, fields: dict[str, str]) -> str:
        """An f-string for `path` with its parameters set to the test's values (`fields`: parameter ->
        the field it stands for, to find a parent's row)."""
        parents = self.parents.get(resource, {})
        text = path
        for name, value in params.items():
            text = text.replace("{" + name + "}", _param_text(value, parents.get(fields.get(name, ""), [])))
        return "f" + repr(text) if "{" in text else repr(text)

    def finish(self) -> list[str]:
        """The lines, with the test's clock first when a relative date-time is used, and rows no later line
        reads created without a name."""
        lines = []
        for index, line in enumerate(self.lines):
            assigned = re.match(r"^(\w+) = (post_row\(.*)$", line)
            later = " ".join(self.lines[index + 1 :])
            if assigned and not re.search(rf"\b{assigned[1]}\b", later):
                line = assigned[2]
            lines.append(line)
        if any("at(moment" in line for line in lines):
            return ["moment = now()", *lines]
        return lines


def _param_text(value: Any, parents: list[str]) -> str:
    """A path parameter's value in an f-string's text: a parent's id as an expression, the rest as text."""
    if isinstance(value, ParentId):
        return "{" + code_of(value, parents) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- queries and aggregates --------------------------------------------------------------------------------


@dataclass
class Plan:
    """The rows a query's test creates, decided by the oracle."""

    kept: list[dict[str, Any]]
    """Rows every condition holds for, in the order the answer must list them."""
    missed: list[dict[str, Any]]
    """One row per condition that fails it (and, where possible, only it)."""
    params: dict[str, Any]


def _kinds(entity: Entity) -> dict[str, FieldType]:
    return {f.name: f.type for f in entity.fields}


def _params(endpoint: Endpoint, where: list[Condition], entity: Entity) -> dict[str, Any]:
    """The value each path parameter takes in the test (a parent's id for a relation field)."""
    kinds = _kinds(entity)
    links = {r.field for r in entity.relations}
    params: dict[str, Any] = {}
    for condition in where:
        if condition.source == "param":
            name = str(condition.value)
            params[name] = ParentId(0) if condition.field in links else PARAM_SAMPLES[kinds[condition.field]]
    return params


def _param_fields(where: list[Condition]) -> dict[str, str]:
    return {str(c.value): c.field for c in where if c.source == "param"}


def _field_values(
    entity: Entity, name: str, where: list[Condition], params: dict[str, Any], base: dict[str, Any]
) -> tuple[list[Any], list[Any]]:
    """(candidates, those every condition on the field holds for) of one field."""
    kinds = _kinds(entity)
    now = now_at_generation()
    on_field = [c for c in where if c.field == name]
    schema = entity.field(name)
    required = schema is not None and schema.required
    if name in {r.field for r in entity.relations}:
        values: list[Any] = [ParentId(0), ParentId(1)]
    else:
        sample = base.get(name, sample_value(kinds[name], name))
        values = candidates(kinds[name], on_field, params, required=required, sample=sample)
    keep = [v for v in values if all(holds(c, kinds[name], v, params, now=now) for c in on_field)]
    return values, keep


def plan_rows(entity: Entity, where: list[Condition], params: dict[str, Any], base: dict[str, Any]) -> Plan:
    """Two rows the conditions keep (when any can be) and one row missing each condition."""
    kinds = _kinds(entity)
    now = now_at_generation()
    fields = list(dict.fromkeys(c.field for c in where))
    chosen: dict[str, tuple[list[Any], list[Any]]] = {
        name: _field_values(entity, name, where, params, base) for name in fields
    }
    matchable = all(keep for _, keep in chosen.values())
    first = dict(base)
    for name, (values, keep) in chosen.items():
        first[name] = keep[0] if keep else values[0]
    missed = []
    for index, condition in enumerate(where):
        values, _keep = chosen[condition.field]
        others = [c for i, c in enumerate(where) if i != index and c.field == condition.field]
        kind = kinds[condition.field]
        failing = [v for v in values if not holds(condition, kind, v, params, now=now)]
        best = [v for v in failing if all(holds(c, kind, v, params, now=now) for c in others)] or failing
        if best:
            missed.append({**first, condition.field: best[0]})
    kept = [first, dict(first)] if matchable else []
    return Plan(kept=kept, missed=missed, params=params)


def _order_pair(entity: Entity, behaviour: QueryBehaviour, plan: Plan, where: list[Condition]) -> bool:
    """Give the two kept rows different values of the first sort key, so that the answer's order shows the
    sort; True when the second-created row must then come first."""
    if not behaviour.order or len(plan.kept) < 2:
        return False
    key = behaviour.order[0]
    if key.field == "id":
        return key.descending
    kind = _kinds(entity)[key.field]
    now = now_at_generation()
    _values, keep = _field_values(entity, key.field, where, plan.params, plan.kept[0])
    if not any(c.field == key.field for c in where):
        keep = [*keep, *_spread(entity, key.field, kind)]
    ranked: list[Any] = []
    for value in sorted((v for v in keep if v is not None), key=lambda v: normal(kind, v, now=now)):
        if all(normal(kind, value, now=now) != normal(kind, seen, now=now) for seen in ranked):
            ranked.append(value)
    if len(ranked) < 2:
        return False
    low, high = ranked[0], ranked[-1]
    first, second = plan.kept
    first[key.field], second[key.field] = (low, high) if key.descending else (high, low)
    return True


def _spread(entity: Entity, name: str, kind: FieldType) -> list[Any]:
    """Distinct values of a field no condition constrains (to tell two rows apart)."""
    if name in {r.field for r in entity.relations}:
        return [ParentId(0), ParentId(1)]
    if kind is FieldType.BOOLEAN:
        return [False, True]
    return list(AGGREGATE_VALUES[kind])


def _create_rows(writer: Writer, resource: str, plan: Plan, *, keep: bool = True) -> list[str]:
    """Create the missed and kept rows interleaved; the kept rows' variables, in creation order."""
    kept_vars: list[str] = []
    missed = list(plan.missed)
    if missed:
        writer.create(resource, missed.pop(0))
    for row in plan.kept if keep else []:
        kept_vars.append(writer.create(resource, row, var=writer.var("kept")))
        if missed:
            writer.create(resource, missed.pop(0))
    for row in missed:
        writer.create(resource, row)
    return kept_vars


def query_lines(spec: Spec, endpoint: Endpoint, check: str) -> list[str]:
    behaviour = endpoint.behaviour
    assert isinstance(behaviour, QueryBehaviour)
    writer = Writer(spec)
    resource = endpoint.resource or ""
    entity = writer.entity(resource)
    writer.ensure_parents(resource)
    params = _params(endpoint, behaviour.where, entity)
    plan = plan_rows(entity, behaviour.where, params, writer.base(resource))
    swapped = _order_pair(entity, behaviour, plan, behaviour.where)
    kept = _create_rows(writer, resource, plan, keep=check != "query_missing")
    matches = [f'{name}["id"]' for name in (reversed(kept) if swapped else kept)]
    expected = matches[: behaviour.limit]  # the first page: at most `limit` rows
    url = writer.url(endpoint.path, params, resource, _param_fields(behaviour.where))
    lines = writer.lines
    if check == "query_page":
        lines.append(f"response = client.get({url}, params={{'limit': 1, 'offset': 1}})")
        lines.append("assert response.status_code == 200, response.text")
        lines.append(f"assert [item['id'] for item in response.json()] == [{', '.join(matches[1:2])}]")
        lines.append(f"assert client.get({url}, params={{'limit': 0}}).status_code == 422")
        lines.append(
            f"assert client.get({url}, params={{'limit': {behaviour.limit + 1}}}).status_code == 422"
        )
        return writer.finish()
    lines.append(f"response = client.get({url})")
    if behaviour.single and (check == "query_missing" or not expected):
        lines.append("assert response.status_code == 404, response.text")
    elif behaviour.single:
        lines.append("assert response.status_code == 200, response.text")
        lines.append(f"assert response.json()['id'] == {expected[0]}")
    else:
        lines.append("assert response.status_code == 200, response.text")
        lines.append(f"assert [item['id'] for item in response.json()] == [{', '.join(expected)}]")
    return writer.finish()


def aggregate_lines(spec: Spec, endpoint: Endpoint) -> list[str]:
    behaviour = endpoint.behaviour
    assert isinstance(behaviour, AggregateBehaviour)
    writer = Writer(spec)
    resource = endpoint.resource or ""
    entity = writer.entity(resource)
    writer.ensure_parents(resource)
    params = _params(endpoint, behaviour.where, entity)
    plan = plan_rows(entity, behaviour.where, params, writer.base(resource))
    kept = _aggregate_rows(entity, behaviour, plan)
    plan = Plan(
        kept=kept, missed=[{**row, **_spoil(entity, behaviour)} for row in plan.missed], params=params
    )
    _create_rows(writer, resource, plan)
    url = writer.url(endpoint.path, params, resource, _param_fields(behaviour.where))
    parents = writer.parents.get(resource, {})
    writer.lines.append(f"response = client.get({url})")
    writer.lines.append("assert response.status_code == 200, response.text")
    writer.lines.append(f"assert response.json() == {_aggregate_expected(entity, behaviour, kept, parents)}")
    return writer.finish()


def _aggregate_rows(entity: Entity, behaviour: AggregateBehaviour, plan: Plan) -> list[dict[str, Any]]:
    """Three kept rows: two in one group, one in another (when the group field allows two values)."""
    if not plan.kept:
        return []
    row = plan.kept[0]
    rows = [dict(row), dict(row), dict(row)]
    if behaviour.group_by is not None:
        _values, keep = _field_values(entity, behaviour.group_by, behaviour.where, plan.params, row)
        groups = [v for v in keep if v is not None] or keep
        distinct = [v for i, v in enumerate(groups) if v not in groups[:i]]
        first, second = (distinct[0], distinct[1]) if len(distinct) > 1 else (distinct[0], distinct[0])
        for target, value in zip(rows, (first, first, second), strict=True):
            target[behaviour.group_by] = value
    if behaviour.field is not None:
        kind = _kinds(entity)[behaviour.field]
        _values, keep = _field_values(entity, behaviour.field, behaviour.where, plan.params, row)
        conditioned = any(c.field == behaviour.field for c in behaviour.where)
        values = [v for v in keep if v is not None] if conditioned else list(AGGREGATE_VALUES[kind])
        values = (values * 3)[:3] if values else [row.get(behaviour.field)] * 3
        for target, value in zip(rows, values, strict=True):
            if behaviour.field != behaviour.group_by:
                target[behaviour.field] = value
    return rows


def _spoil(entity: Entity, behaviour: AggregateBehaviour) -> dict[str, Any]:
    """Nothing: a left-out row keeps the kept rows' values, so any figure that counted it would differ."""
    return {}


def _aggregate_expected(
    entity: Entity, behaviour: AggregateBehaviour, kept: list[dict[str, Any]], parents: dict[str, list[str]]
) -> str:
    kinds = _kinds(entity)
    now = now_at_generation()
    key = behaviour.function.value
    if behaviour.group_by is None:
        return "{" + f"{key!r}: {_figure(behaviour, kinds, kept)}" + "}"
    group = behaviour.group_by
    groups: list[Any] = []
    for row in kept:
        if row.get(group) not in groups:
            groups.append(row.get(group))
    ordered = sorted(
        groups, key=lambda v: (v is None, normal(kinds[group], v, now=now) if v is not None else 0)
    )
    items = []
    for value in ordered:
        rows = [row for row in kept if row.get(group) == value]
        code = code_of(value, parents.get(group, []))
        items.append("{" + f"{group!r}: {code}, {key!r}: {_figure(behaviour, kinds, rows)}" + "}")
    return "[" + ", ".join(items) + "]"


def _figure(behaviour: AggregateBehaviour, kinds: dict[str, FieldType], rows: list[dict[str, Any]]) -> str:
    if behaviour.function is Aggregate.COUNT:
        return str(len(rows))
    assert behaviour.field is not None
    kind = kinds[behaviour.field]
    now = now_at_generation()
    values: list[Any] = [row[behaviour.field] for row in rows if row.get(behaviour.field) is not None]
    if any(isinstance(v, Relative | ParentId) for v in values):
        raise ScenarioError(f"cannot state the {behaviour.function.value} of relative values")
    if behaviour.function is Aggregate.SUM:
        return repr(sum(values))
    if not values:
        return "None"
    pick = min if behaviour.function is Aggregate.MIN else max
    return repr(pick(values, key=lambda v: normal(kind, v, now=now)))


# -- actions and redirects ---------------------------------------------------------------------------------


def _lookup_rows(
    writer: Writer, resource: str, lookup: str, extra: dict[str, Any], other: dict[str, Any]
) -> tuple[str, str, str]:
    """Two rows (the one the path names, another); the URL parameter's Python expression for the first."""
    entity = writer.entity(resource)
    kinds = _kinds(entity)
    if lookup == "id":
        first = writer.create(resource, extra, var="row")
        second = writer.create(resource, other, var="other")
        return first, second, f'{first}["id"]'
    sample, different = PARAM_SAMPLES[kinds[lookup]], OTHER[kinds[lookup]]
    first = writer.create(resource, {**extra, lookup: sample}, var="row")
    second = writer.create(resource, {**other, lookup: different}, var="other")
    text = ("true" if sample else "false") if isinstance(sample, bool) else str(sample)
    return first, second, repr(text)


def _path_with(path: str, value: str) -> str:
    """An f-string of `path` with its one parameter set to the Python expression `value`."""
    start, end = path.index("{"), path.index("}")
    return "f" + repr(path[:start] + "{" + value + "}" + path[end + 1 :])


def _row_url(path: str, var: str) -> str:
    """The URL of a created row (`var`) on a path with one id parameter."""
    return _path_with(path, f'{var}["id"]')


def _missing_url(path: str) -> str:
    return _path_with(path, repr(str(MISSING_ID)))


def action_lines(spec: Spec, endpoint: Endpoint, check: str) -> list[str]:
    behaviour = endpoint.behaviour
    assert isinstance(behaviour, ActionBehaviour)
    writer = Writer(spec)
    resource = endpoint.resource or ""
    entity = writer.entity(resource)
    method = endpoint.method.value
    if check == "action_missing":
        writer.lines.append(f"response = client.request({method!r}, {_missing_url(endpoint.path)})")
        writer.lines.append("assert response.status_code == 404, response.text")
        return writer.finish()
    row, other, key = _lookup_rows(writer, resource, behaviour.lookup, {}, {})
    url = _path_with(endpoint.path, key)
    changed = [a.field for a in behaviour.set] + [i.field for i in behaviour.increment]
    lines = writer.lines
    lines.append("started = now()")
    lines.append(f"first = client.request({method!r}, {url})")
    lines.append(f"response = client.request({method!r}, {url})")
    lines.append("ended = now()")
    lines.append("assert first.status_code == 200, first.text")
    lines.append("assert response.status_code == 200, response.text")
    lines.append("body = response.json()")
    for assignment in behaviour.set:
        if assignment.source == "now":
            lines.append(f"assert started <= instant(body[{assignment.field!r}]) <= ended")
        else:
            same = "is" if assignment.value is None or isinstance(assignment.value, bool) else "=="
            lines.append(f"assert body[{assignment.field!r}] {same} {assignment.value!r}")
    for increment in behaviour.increment:
        name = repr(increment.field)
        lines.append(f"assert abs(body[{name}] - (({row}[{name}] or 0) + 2 * {increment.by!r})) < 1e-9")
    lines.append(f"unchanged = {changed!r}")
    lines.append("rest = {k: v for k, v in body.items() if k not in unchanged}")
    lines.append(f"assert rest == {{k: v for k, v in {row}.items() if k not in unchanged}}")
    getter = writer.get_path(resource)
    if getter is not None and entity is not None:
        lines.append(f"assert client.get({_row_url(getter, other)}).json() == {other}")
    return writer.finish()


def redirect_lines(spec: Spec, endpoint: Endpoint, check: str) -> list[str]:
    behaviour = endpoint.behaviour
    assert isinstance(behaviour, RedirectBehaviour)
    writer = Writer(spec)
    resource = endpoint.resource or ""
    if check == "redirect_missing":
        writer.lines.append(f"response = client.get({_missing_url(endpoint.path)}, follow_redirects=False)")
        writer.lines.append("assert response.status_code == 404, response.text")
        return writer.finish()
    row, _other, key = _lookup_rows(
        writer, resource, behaviour.lookup, {behaviour.to: TARGET}, {behaviour.to: OTHER_TARGET}
    )
    lines = writer.lines
    lines.append(f"response = client.get({_path_with(endpoint.path, key)}, follow_redirects=False)")
    lines.append(f"assert response.status_code == {behaviour.status}, response.text")
    lines.append(f"assert response.headers['location'] == {TARGET!r}")
    getter = writer.get_path(resource)
    if behaviour.increment and getter is not None:
        lines.append(f"after = client.get({_row_url(getter, row)}).json()")
        for increment in behaviour.increment:
            lines.append(
                f"assert after[{increment.field!r}] == ({row}[{increment.field!r}] or 0) + {increment.by!r}"
            )
    return writer.finish()


# -- fixed answers, relations, seed rows, URL fields -------------------------------------------------------


def static_lines(endpoint: Endpoint) -> list[str]:
    behaviour = endpoint.behaviour
    assert isinstance(behaviour, StaticBehaviour)
    return [
        f"response = client.request({endpoint.method.value!r}, {endpoint.path!r})",
        "assert response.status_code == 200, response.text",
        f"assert response.json() == {behaviour.body!r}",
    ]


def related_lines(spec: Spec, endpoint: Endpoint, check: str) -> list[str]:
    behaviour = endpoint.behaviour
    assert isinstance(behaviour, RelatedBehaviour)
    writer = Writer(spec)
    resource = endpoint.resource or ""
    if check == "related_missing":
        writer.lines.append(f"response = client.get({_missing_url(endpoint.path)})")
        writer.lines.append("assert response.status_code == 404, response.text")
        return writer.finish()
    parents = writer.ensure_parents(resource)[behaviour.field]
    rows = [writer.create(resource, {behaviour.field: ParentId(index)}) for index in (0, 1, 0)]
    url = _path_with(endpoint.path, f'{parents[0]}["id"]')
    writer.lines.append(f"response = client.get({url})")
    writer.lines.append("assert response.status_code == 200, response.text")
    writer.lines.append(
        f"assert [item['id'] for item in response.json()] == [{rows[0]}['id'], {rows[2]}['id']]"
    )
    return writer.finish()


def relation_refused_lines(spec: Spec, endpoint: Endpoint, index: int) -> list[str]:
    writer = Writer(spec)
    resource = endpoint.resource or ""
    entity = writer.entity(resource)
    relation = entity.relations[min(index, len(entity.relations) - 1)]
    body = writer.body(resource, {**writer.base(resource), relation.field: MISSING_ID})
    writer.lines.append(f"response = client.post({endpoint.path!r}, json={body})")
    writer.lines.append("assert response.status_code == 422, response.text")
    listing = writer.list_path(resource)
    if listing is not None:
        writer.lines.append(f"assert client.get({listing!r}).json() == []")
    return writer.finish()


def relation_delete_lines(spec: Spec, endpoint: Endpoint, index: int) -> list[str]:
    """The parent's DELETE with one child: refused (restrict) or taking the child along (cascade)."""
    writer = Writer(spec)
    parent = endpoint.resource or ""
    links = [(e, r) for e in spec.data_model.entities for r in e.relations if r.parent == parent]
    if not links:
        raise ScenarioError(f"no resource belongs to '{parent}'")
    child, relation = links[min(index, len(links) - 1)]
    writer.parents[child.name] = {}
    owner = writer.create(parent, {}, var="parent")
    for other in child.relations:
        writer.parents[child.name][other.field] = (
            [owner] if other is relation else [writer.create(other.parent, {})]
        )
    kid = writer.create(child.name, {}, var="child")
    lines = writer.lines
    lines.append(f"response = client.delete({_row_url(endpoint.path, owner)})")
    child_get = writer.get_path(child.name)
    parent_get = writer.get_path(parent)
    if relation.on_delete.value == "cascade":
        lines.append("assert response.status_code == 204, response.text")
        if child_get:
            lines.append(f"assert client.get({_row_url(child_get, kid)}).status_code == 404")
    else:
        lines.append("assert response.status_code == 409, response.text")
        for name, getter in ((owner, parent_get), (kid, child_get)):
            if getter:
                lines.append(f"assert client.get({_row_url(getter, name)}).status_code == 200")
    return writer.finish()


def bad_url_lines(spec: Spec, endpoint: Endpoint, index: int) -> list[str]:
    writer = Writer(spec)
    resource = endpoint.resource or ""
    entity = writer.entity(resource)
    urls = [f.name for f in entity.fields if f.type is FieldType.URL]
    if not urls:
        raise ScenarioError(f"'{resource}' has no url field")
    name = urls[min(index, len(urls) - 1)]
    writer.lines.append(f"sample = {writer.body(resource, writer.base(resource))}")
    writer.lines.append(f"for bad in {BAD_URLS!r}:")
    writer.lines.append(f"    response = client.post({endpoint.path!r}, json={{**sample, {name!r}: bad}})")
    writer.lines.append("    assert response.status_code == 422, (bad, response.text)")
    listing = writer.list_path(resource)
    if listing is not None:
        writer.lines.append(f"assert client.get({listing!r}).json() == []")
    return writer.finish()


def seeded_lines(spec: Spec, endpoint: Endpoint) -> list[str]:
    entity = spec.entity(endpoint.resource or "")
    if entity is None or not entity.seed:
        raise ScenarioError(f"{endpoint.id}: its resource has no seed rows")
    return [
        "with TestClient(create_app(replace(config, seed=True))) as client:",
        f"    response = client.get({endpoint.path!r})",
        "assert response.status_code == 200, response.text",
        "rows = response.json()",
        f"assert [row['id'] for row in rows] == {list(range(1, len(entity.seed) + 1))!r}",
        f"for row, seed in zip(rows, {entity.seed!r}, strict=True):",
        f"    given = models.CREATE[{entity.name!r}].model_validate(seed)",
        "    expected = given.model_dump(mode='json', by_alias=True)",
        "    assert {key: row[key] for key in expected} == expected",
    ]
