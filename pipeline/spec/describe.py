"""What an endpoint does, in words a reviewer reads: one sentence per behaviour, from the SPEC alone.

The SPEC.md template and the offline builder's requirements both read these, so what the reviewer reads is
what the templates implement.
"""

from __future__ import annotations

import json
import re

from pipeline.intents import Aggregate, FieldType, Op
from pipeline.spec.model import (
    ActionBehaviour,
    AggregateBehaviour,
    Assignment,
    Condition,
    Endpoint,
    Increment,
    QueryBehaviour,
    RedirectBehaviour,
    RelatedBehaviour,
    SortKey,
    Spec,
    StaticBehaviour,
)

UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
NOW_WORDS = "the time of the request"
ORDERED_WORDS = {
    Op.EQ: "is",
    Op.NE: "is not",
    Op.LT: "is less than",
    Op.LTE: "is at most",
    Op.GT: "is greater than",
    Op.GTE: "is at least",
    Op.CONTAINS: "contains",
}
TIME_WORDS = {Op.LT: "is before", Op.LTE: "is at or before", Op.GT: "is after", Op.GTE: "is at or after"}
AGGREGATE_WORDS = {
    Aggregate.COUNT: "the number of {many}",
    Aggregate.SUM: "the sum of {field} over the {many}",
    Aggregate.MIN: "the smallest {field} among the {many}",
    Aggregate.MAX: "the largest {field} among the {many}",
}
PLACEHOLDER = "nothing yet: no hint says what it returns, so only a model can write it"


def plural_of(spec: Spec, resource: str | None) -> str:
    """The collection name the SPEC uses for a resource (its list path), or the name with an 's'."""
    for ep in spec.endpoints:
        if ep.resource == resource and ep.operation == "list":
            return ep.path.strip("/").split("/")[-1]
    return f"{resource}s"


def now_words(offset: str) -> str:
    match = re.fullmatch(r"([+-])(\d+)([smhdw])", offset or "")
    if match is None:
        return NOW_WORDS
    sign, amount, unit = match.groups()
    word = UNITS[unit] + ("" if amount == "1" else "s")
    return f"{amount} {word} {'before' if sign == '-' else 'after'} {NOW_WORDS}"


def value_words(condition: Condition | Assignment) -> str:
    if condition.source == "now":
        return now_words(str(condition.value or ""))
    if condition.source == "param":
        return f"the path's {{{condition.value}}}"
    return json.dumps(condition.value)


def condition_words(condition: Condition, kind: FieldType | None) -> str:
    words = ORDERED_WORDS[condition.op]
    if kind is FieldType.DATETIME and condition.op in TIME_WORDS:
        words = TIME_WORDS[condition.op]
    ignoring = " (ignoring case)" if condition.op is Op.CONTAINS else ""
    return f"{condition.field} {words} {value_words(condition)}{ignoring}"


def where_words(spec: Spec, resource: str | None, where: list[Condition]) -> str:
    if not where:
        return ""
    entity = spec.entity(resource or "")
    types = {f.name: f.type for f in entity.fields} if entity else {}
    parts = [condition_words(c, types.get(c.field, FieldType.INTEGER)) for c in where]
    return " whose " + " and whose ".join(parts)


def order_words(order: list[SortKey]) -> str:
    keys = [f"{key.field} ({'descending' if key.descending else 'ascending'})" for key in order]
    return "sorted by " + ", then ".join([*keys, "id"]) if keys else "oldest first (by id)"


def describe_query(spec: Spec, endpoint: Endpoint, behaviour: QueryBehaviour) -> str:
    many = plural_of(spec, endpoint.resource)
    where = where_words(spec, endpoint.resource, behaviour.where)
    if behaviour.single:
        which = "the first" if not behaviour.order else "the first, " + order_words(behaviour.order) + ","
        return f"Answers {which} {endpoint.resource}{where}; 404 when there is none."
    return (
        f"Answers the {many}{where}, {order_words(behaviour.order)}; at most {behaviour.limit} per page "
        f"(query parameters limit, 1 to {behaviour.limit}, and offset)."
    )


def describe_aggregate(spec: Spec, endpoint: Endpoint, behaviour: AggregateBehaviour) -> str:
    many = plural_of(spec, endpoint.resource)
    what = AGGREGATE_WORDS[behaviour.function].format(many=many, field=behaviour.field)
    what += where_words(spec, endpoint.resource, behaviour.where)
    key = behaviour.function.value
    if behaviour.group_by:
        return (
            f"Answers {what}, per {behaviour.group_by}: a list of {{{behaviour.group_by}, {key}}}, "
            f"sorted by {behaviour.group_by} (no rows: an empty list)."
        )
    empty = "0" if behaviour.function in {Aggregate.COUNT, Aggregate.SUM} else "null"
    return f"Answers {what} as {{{key}: value}} (no rows: {empty})."


def change_words(assignments: list[Assignment], increments: list[Increment]) -> str:
    changes = [f"sets {a.field} to {value_words(a)}" for a in assignments]
    changes += [f"adds {json.dumps(i.by)} to {i.field}" for i in increments]
    if len(changes) > 1:
        return ", ".join(changes[:-1]) + " and " + changes[-1]
    return changes[0] if changes else ""


def lookup_words(endpoint: Endpoint, lookup: str) -> str:
    param = re.findall(r"\{([^}]*)\}", endpoint.path)
    return f"the {endpoint.resource} whose {lookup} is the path's {{{param[0] if param else lookup}}}"


def describe_action(endpoint: Endpoint, behaviour: ActionBehaviour) -> str:
    found = lookup_words(endpoint, behaviour.lookup)
    changes = change_words(behaviour.set, behaviour.increment)
    return f"Finds {found} (404 when none), {changes}, and answers the changed {endpoint.resource}."


def describe_redirect(endpoint: Endpoint, behaviour: RedirectBehaviour) -> str:
    found = lookup_words(endpoint, behaviour.lookup)
    changes = change_words([], behaviour.increment)
    counted = f", {changes}" if changes else ""
    return (
        f"Finds {found} (404 when none){counted}, and answers {behaviour.status} with Location set to "
        f"its {behaviour.to} (an http(s) URL)."
    )


def describe_static(behaviour: StaticBehaviour) -> str:
    return f"Answers 200 with exactly this JSON: `{json.dumps(behaviour.body, ensure_ascii=False)}`."


def describe_related(spec: Spec, endpoint: Endpoint, behaviour: RelatedBehaviour) -> str:
    many = plural_of(spec, endpoint.resource)
    return (
        f"Answers the {many} whose {behaviour.field} is the path's {{id}}, oldest first; 404 when no "
        f"{behaviour.parent} has that id."
    )


def describe(spec: Spec, endpoint: Endpoint) -> str:
    """What `endpoint` does, in one or two sentences ('' for the plain CRUD, health and metrics ones)."""
    behaviour = endpoint.behaviour
    if isinstance(behaviour, QueryBehaviour):
        return describe_query(spec, endpoint, behaviour)
    if isinstance(behaviour, AggregateBehaviour):
        return describe_aggregate(spec, endpoint, behaviour)
    if isinstance(behaviour, ActionBehaviour):
        return describe_action(endpoint, behaviour)
    if isinstance(behaviour, RedirectBehaviour):
        return describe_redirect(endpoint, behaviour)
    if isinstance(behaviour, StaticBehaviour):
        return describe_static(behaviour)
    if isinstance(behaviour, RelatedBehaviour):
        return describe_related(spec, endpoint, behaviour)
    if endpoint.operation == "custom" and spec.logic == "stage":
        return "The line's own stage answers it (from the stage kit), configured by the service's hints."
    if endpoint.operation == "custom":
        return "Logic written by a model." if spec.logic == "model" else f"Does {PLACEHOLDER}."
    return ""
