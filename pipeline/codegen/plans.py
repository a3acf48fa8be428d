"""An endpoint's behaviour as the Python literal app/routes.py hands to app/behaviours.py (its plan), and
the order routes are registered in."""

from __future__ import annotations

import re
from typing import Any

from pipeline.spec.model import (
    ActionBehaviour,
    AggregateBehaviour,
    Condition,
    Endpoint,
    QueryBehaviour,
    RedirectBehaviour,
    StaticBehaviour,
)

_PARAM = re.compile(r"\{[^}]*\}")


def plan_name(endpoint: Endpoint) -> str:
    """PLAN_EP_006: the module constant holding an endpoint's plan."""
    return "PLAN_" + re.sub(r"[^A-Z0-9]+", "_", endpoint.id.upper())


def _conditions(where: list[Condition]) -> str:
    items = [f"behaviours.Condition({c.field!r}, {c.op.value!r}, {c.value!r}, {c.source!r})" for c in where]
    return "(" + "".join(f"{item}, " for item in items) + ")"


def plan_literal(endpoint: Endpoint) -> str | None:
    """The Python expression of the endpoint's plan; None when it has none."""
    behaviour = endpoint.behaviour
    resource = endpoint.resource
    if isinstance(behaviour, QueryBehaviour):
        order = tuple((key.field, key.descending) for key in behaviour.order)
        return (
            f"behaviours.Query(resource={resource!r}, where={_conditions(behaviour.where)}, order={order!r}, "
            f"limit={behaviour.limit}, single={behaviour.single})"
        )
    if isinstance(behaviour, AggregateBehaviour):
        return (
            f"behaviours.Aggregate(resource={resource!r}, function={behaviour.function.value!r}, "
            f"field={behaviour.field!r}, group_by={behaviour.group_by!r}, "
            f"where={_conditions(behaviour.where)})"
        )
    if isinstance(behaviour, ActionBehaviour):
        values = {a.field: a.value for a in behaviour.set if a.source == "value"}
        now = tuple(a.field for a in behaviour.set if a.source == "now")
        increments = {i.field: i.by for i in behaviour.increment}
        return (
            f"behaviours.Change(resource={resource!r}, lookup={behaviour.lookup!r}, set={values!r}, "
            f"now={now!r}, increment={increments!r})"
        )
    if isinstance(behaviour, RedirectBehaviour):
        increments = {i.field: i.by for i in behaviour.increment}
        return (
            f"behaviours.Change(resource={resource!r}, lookup={behaviour.lookup!r}, increment={increments!r})"
        )
    if isinstance(behaviour, StaticBehaviour):
        return _python(behaviour.body)
    return None


def _python(value: Any) -> str:
    """A JSON value as a Python literal (repr of the parsed JSON: true is True, null is None)."""
    return repr(value)


def route_order(path: str) -> tuple[int, ...]:
    """Sort key of a path: at the first segment where two paths differ in kind, the static one comes first.

    Starlette answers with the first route whose pattern matches, so `/tasks/overdue` must be registered
    before `/tasks/{id}` (which matches it too); and of `/a/b/{x}` and `/a/{y}/c`, which both match
    `/a/b/c`, the one that stays static longer wins. Paths that cannot match the same URL keep any order.
    """
    return tuple(1 if _PARAM.fullmatch(segment) else 0 for segment in path.strip("/").split("/"))


def registration_order(endpoints: list[Endpoint]) -> list[Endpoint]:
    """The endpoints in the order their routes are registered: stable, static segments first."""
    return sorted(endpoints, key=lambda endpoint: route_order(endpoint.path))
