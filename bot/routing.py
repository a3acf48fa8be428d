"""Which handler runs for which webhook event, and which for which job kind: one `Routes` per feature module.

A feature module (e.g. `bot/handlers/merges.py`) declares `routes = Routes()` and decorates plain,
synchronous functions:

    @routes.on(PullRequestEvent, action="closed")
    def on_closed(event: PullRequestEvent, context: BotContext) -> None:
        context.queue.enqueue("deploy", key=..., payload=...)

    @routes.job("deploy", on_dead=report_deploy_failure)  # default: bot.handlers.deadletters.report_dead
    def deploy(job: Job, context: BotContext) -> None: ...

Event handlers run in a worker, never on the request path: the webhook only records the delivery and
enqueues one job per matching event route. Matching on event and action uses gidgethub's router (no I/O).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from gidgethub import routing, sansio
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from bot.events import Event
from bot.queue import Job, JobQueue
from bot.settings import Settings
from pipeline.ledger.tables import IntentRow
from pipeline.state import Database

if TYPE_CHECKING:
    from bot.line import Line

log = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=Event)
MAX_ROUTE_NAME = 300
NOT_MANAGED = "dropped %s about %s: the bot does not manage that repository (INTENTOPS_REPO is %s)"


@dataclass(frozen=True)
class BotContext:
    """What handlers receive besides their event or job: the bot's settings, state and queue."""

    settings: Settings
    database: Database
    queue: JobQueue
    line: Line | None = None
    """The line's services (`bot.line.Line`) for the flow handlers; None in intake-only set-ups."""

    def manages(self, repo: str) -> bool:
        """Whether events about `repo` concern the bot: INTENTOPS_REPO and the repositories its ledger
        holds intents from. Without INTENTOPS_REPO every repository its webhooks come from is its own."""
        configured = self.settings.intents_repo
        if not configured or not repo or repo.lower() == configured.lower():
            return True
        with self.database.session() as session:
            known = session.scalar(select(IntentRow.id).where(IntentRow.repo == repo).limit(1))
        return known is not None


EventHandler = Callable[[EventT, BotContext], None]
JobHandler = Callable[[Job, BotContext], None]
DeadLetterHandler = Callable[[Job, BotContext], None]
"""Told when a job of its kind is dead (its `last_error` set), to report it on the PR or commit."""


class PermanentJobError(Exception):
    """Raised by a handler when trying again cannot help: the job goes dead at once, with this message."""


@dataclass(frozen=True)
class EventRoute:
    name: str
    """Stable identifier (`module.function:event[.action]`): event jobs name the route they run."""
    event: str
    action: str | None
    handler: Callable[[Any, BotContext], None]
    include_own: bool
    """Also run for events the bot's own account caused (off by default: no loops)."""


@dataclass(frozen=True)
class JobRoute:
    kind: str
    handler: JobHandler
    on_dead: DeadLetterHandler | None
    """None: the common report (`bot.handlers.deadletters.report_dead`), so every dead job is told."""
    payload: type[BaseModel] | None = None
    """The payload's type: a claimed job whose payload is not one dead-letters at once, naming the field."""

    def malformed(self, job: Job) -> str | None:
        """Why the job's payload is not this route's payload type (None when it is, or none is declared)."""
        if self.payload is None:
            return None
        try:
            self.payload.model_validate(job.payload)
        except ValidationError as exc:
            return MALFORMED_PAYLOAD.format(kind=job.kind, problem=payload_problem(exc))
        return None


MALFORMED_PAYLOAD = "the {kind} job's payload is malformed: {problem}"


def payload_problem(exc: ValidationError) -> str:
    """The first problem of a payload, with its field: `path: Field required`."""
    problem = exc.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "payload"
    return f"{where}: {problem['msg']}"


def _managed_only(name: str, handler: EventHandler[EventT]) -> EventHandler[EventT]:
    """Run `handler` only for events about a repository the bot manages; others are dropped with one
    log line, before they become jobs that would fail against a repository the bot cannot see."""

    def run(event: EventT, context: BotContext) -> None:
        if context.manages(event.repo):
            handler(event, context)
        else:
            log.info(NOT_MANAGED, name, event.repo, context.settings.intents_repo)

    return run


class DuplicateRoute(ValueError):
    """Two handlers claim the same event route name or job kind."""


class Routes:
    """Event routes and job handlers. Combine the modules' instances with `include`."""

    def __init__(self) -> None:
        self._router = routing.Router()
        self._events: dict[str, EventRoute] = {}
        self._jobs: dict[str, JobRoute] = {}

    def on(
        self, event_type: type[EventT], *, action: str | None = None, include_own: bool = False
    ) -> Callable[[EventHandler[EventT]], EventHandler[EventT]]:
        """Register a handler for `event_type` (and only `action`, when given)."""

        def decorator(handler: EventHandler[EventT]) -> EventHandler[EventT]:
            # One function may handle several events: the event and action are part of the name.
            name = f"{handler.__module__}.{handler.__qualname__}:{event_type.name}"
            if action is not None:
                name += f".{action}"
            scoped = _managed_only(name, handler)
            self._add_event(EventRoute(name, event_type.name, action, scoped, include_own))
            return handler

        return decorator

    def job(
        self,
        kind: str,
        *,
        on_dead: DeadLetterHandler | None = None,
        payload: type[BaseModel] | None = None,
    ) -> Callable[[JobHandler], JobHandler]:
        """Register the handler of job `kind` (one per kind); `payload`: the type its payload must have."""

        def decorator(handler: JobHandler) -> JobHandler:
            self._add_job(JobRoute(kind, handler, on_dead, payload))
            return handler

        return decorator

    def _add_event(self, route: EventRoute) -> None:
        if len(route.name) > MAX_ROUTE_NAME:
            raise ValueError(f"route name longer than {MAX_ROUTE_NAME} characters: {route.name[:80]}...")
        if route.name in self._events:
            raise DuplicateRoute(f"event route {route.name} is registered twice")
        self._events[route.name] = route
        # gidgethub's router only stores and matches its callbacks; ours are routes, resolved by `matching`.
        callback = cast(Any, route)
        if route.action is None:
            self._router.add(callback, route.event)
        else:
            self._router.add(callback, route.event, action=route.action)

    def _add_job(self, route: JobRoute) -> None:
        if route.kind in self._jobs:
            raise DuplicateRoute(f"job kind {route.kind!r} has two handlers")
        self._jobs[route.kind] = route

    def include(self, other: Routes) -> None:
        for event_route in other._events.values():
            self._add_event(event_route)
        for job_route in other._jobs.values():
            self._add_job(job_route)

    def matching(self, event: str, payload: Mapping[str, Any], *, own: bool = False) -> list[EventRoute]:
        """The routes an event goes to, in a stable order; `own`: the bot's own account caused it."""
        found = self._router.fetch(sansio.Event(payload, event=event, delivery_id=""))
        routes = [cast(EventRoute, route) for route in found]
        return sorted((r for r in routes if r.include_own or not own), key=lambda r: r.name)

    def event_route(self, name: str) -> EventRoute | None:
        return self._events.get(name)

    def job_route(self, kind: str) -> JobRoute | None:
        return self._jobs.get(kind)

    def job_kinds(self) -> list[str]:
        return sorted(self._jobs)
