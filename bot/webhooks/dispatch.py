"""In a worker: a `github-event` job's stored payload parsed and run by the route the job names."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.events import MalformedEvent, parse_event
from bot.queue import Job
from bot.routing import BotContext, PermanentJobError, Routes
from bot.webhooks.deliveries import DELIVERIES
from bot.webhooks.intake import EventJobPayload

NO_DELIVERY = "delivery {row} no longer exists"
NO_ROUTE = "no handler named {route} (was it removed?)"


def event_job_handler(routes: Routes) -> Callable[[Job, BotContext], None]:
    """The handler of `github-event` jobs: parse the stored payload and run the route the job names."""

    def run_event_job(job: Job, context: BotContext) -> None:
        job_payload = EventJobPayload.model_validate(job.payload)  # checked when claimed (the route says so)
        route = routes.event_route(job_payload.route)
        if route is None:
            raise PermanentJobError(NO_ROUTE.format(route=job_payload.route))
        with context.database.session() as session:
            payload = session.execute(
                select(DELIVERIES.c.payload).where(DELIVERIES.c.id == job_payload.delivery)
            ).scalar_one_or_none()
        if payload is None:
            raise PermanentJobError(NO_DELIVERY.format(row=job_payload.delivery))
        try:
            event = parse_event(route.event, payload)
        except MalformedEvent as exc:
            raise PermanentJobError(str(exc)) from None
        if event is None:
            raise PermanentJobError(f"event {route.event!r} has no model in bot.events")
        if context.line is not None:  # a GitHub App works on the repository with this event's installation
            context.line.event_seen(event.repo, event.installation_id)
        route.handler(event, context)

    return run_event_job
