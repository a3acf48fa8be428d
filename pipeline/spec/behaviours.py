"""An endpoint hint of the intent becomes the behaviour the SPEC records (explicit, with no shorthand left:
`due: {lt: now}` is a condition whose value is the time of the request)."""

from __future__ import annotations

from typing import Any

from pipeline.intents import ActionHint, AggregateHint, EndpointHint, QueryHint, RedirectHint
from pipeline.intents.hints import NOW, PARAM, conditions
from pipeline.spec.model import (
    ActionBehaviour,
    AggregateBehaviour,
    Assignment,
    Behaviour,
    Condition,
    Increment,
    QueryBehaviour,
    RedirectBehaviour,
    SortKey,
    StaticBehaviour,
)

OPERATION_OF_KIND = {
    "query": "query",
    "aggregate": "aggregate",
    "action": "action",
    "redirect": "redirect",
    "respond": "static",
}


def condition(field: str, op: Any, value: Any, *, datetime_field: bool) -> Condition:
    if isinstance(value, str) and (param := PARAM.fullmatch(value)):
        return Condition(field=field, op=op, value=param[1], source="param")
    if datetime_field and isinstance(value, str) and (now := NOW.match(value)):
        offset = f"{now['sign']}{now['amount']}{now['unit']}" if now["sign"] else ""
        return Condition(field=field, op=op, value=offset, source="now")
    return Condition(field=field, op=op, value=value)


def where(hint_where: dict[str, Any], datetimes: frozenset[str]) -> list[Condition]:
    return [
        condition(name, op, value, datetime_field=name in datetimes)
        for name, op, value in conditions(hint_where)
    ]


def query(hint: QueryHint, datetimes: frozenset[str]) -> QueryBehaviour:
    order = [SortKey(field=item.removeprefix("-"), descending=item.startswith("-")) for item in hint.order]
    return QueryBehaviour(
        where=where(hint.where, datetimes), order=order, limit=hint.limit, single=hint.single
    )


def aggregate(hint: AggregateHint, datetimes: frozenset[str]) -> AggregateBehaviour:
    return AggregateBehaviour(
        function=hint.function,
        field=hint.field,
        group_by=hint.group_by,
        where=where(hint.where, datetimes),
    )


def increments(values: dict[str, int | float]) -> list[Increment]:
    return [Increment(field=name, by=amount) for name, amount in values.items()]


def action(hint: ActionHint, datetimes: frozenset[str]) -> ActionBehaviour:
    assignments = [
        Assignment(field=name, source="now")
        if name in datetimes and value == "now"
        else Assignment(field=name, value=value)
        for name, value in hint.set.items()
    ]
    return ActionBehaviour(lookup=hint.lookup, set=assignments, increment=increments(dict(hint.increment)))


def redirect(hint: RedirectHint) -> RedirectBehaviour:
    return RedirectBehaviour(
        lookup=hint.lookup, to=hint.to, status=hint.status, increment=increments(dict(hint.increment))
    )


def behaviour_of(hint: EndpointHint, datetimes: frozenset[str]) -> Behaviour | None:
    """The behaviour an endpoint hint says, with `datetimes` the date-time fields of its resource."""
    if hint.query is not None:
        return query(hint.query, datetimes)
    if hint.aggregate is not None:
        return aggregate(hint.aggregate, datetimes)
    if hint.action is not None:
        return action(hint.action, datetimes)
    if hint.redirect is not None:
        return redirect(hint.redirect)
    if hint.kind == "respond":
        return StaticBehaviour(body=hint.respond)
    return None
