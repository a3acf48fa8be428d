"""One workflow run's event through the webhook's intake and handlers, worked off to completion.

The event is recorded and routed exactly as a webhook delivery (`bot.webhooks.intake`), then one worker
(`bot.worker.Worker`) runs every job it leads to, and the jobs those lead to, until none is left. Two
things a webhook bot learns from further deliveries are done here in the same process, because GitHub
starts no workflow run for what the workflow's own GITHUB_TOKEN does:
- a pull request the line merged is deployed (`bot.handlers.merges.on_closed`, as its closed event would);
- `workflow_dispatch` reads every intent on the default branch (`bot.handlers.intents.on_push`, as a push
  adding them would): a catch-up after runs that were skipped or failed.
Deploys can be held for a later job (one with a GitHub Environment, whose reviewers then sign off too).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gidgethub import sansio
from sqlalchemy import select, update

from bot.actions.runner import RunnerEvent
from bot.events import Commit, PullRequestEvent, PushEvent
from bot.handlers import intents as intent_flow
from bot.handlers import merges as merge_flow
from bot.handlers.common import INTENTS_DIR, JobKind, is_intent_path
from bot.line import Line
from bot.queue import JOBS, JobState
from bot.routing import BotContext, Routes
from bot.webhooks.intake import WebhookIntake
from bot.worker import Worker
from pipeline.ledger import IntentRecord, IntentState

ACTIONS_HOOK = "actions"
"""The hook id the run's deliveries are recorded under (webhook deliveries carry their hook's id)."""
HELD_UNTIL = 1.0e12
"""A held deploy job waits until this time (the year 33658): only a run that releases it runs it."""
WORKER = "actions"
DISPATCHED = "workflow_dispatch: every intent on {branch} at {sha}"
WAITING_STATES = (IntentState.APPROVED, IntentState.AWAITING_SIGNOFF, IntentState.NEEDS_HUMAN)
"""Where an intent waits before its merge: a merged pull request of one of these is deployed."""


@dataclass(frozen=True)
class DeadJob:
    kind: str
    key: str
    error: str


@dataclass(frozen=True)
class RunReport:
    """What one run did: the intents it changed, the jobs that gave up, the deploys left for later."""

    event: str
    delivery: str
    """How the event was taken: queued, ignored, own-event, duplicate, or dispatched."""
    intents: tuple[IntentRecord, ...]
    dead: tuple[DeadJob, ...]
    held: tuple[str, ...]
    """Keys of the deploy jobs held for a later job."""
    timed_out: bool


class ActionDriver:
    """Feeds one event and works off its jobs with one worker, in this process."""

    def __init__(
        self, context: BotContext, routes: Routes, line: Line, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.context = context
        self.routes = routes
        self.line = line
        self.clock = clock
        self.worker = Worker(context, routes, name=f"{WORKER}-{id(self)}")
        self._since = datetime.now(UTC)

    def run(self, event: RunnerEvent, *, hold_deploys: bool, timeout_s: float) -> RunReport:
        self._since = datetime.now(UTC)
        started = self.clock()
        delivery = self.feed(event)
        if not hold_deploys:
            self._release_deploys()
        timed_out = not self.drain(hold_deploys=hold_deploys, deadline=started + timeout_s)
        return RunReport(
            event=event.workflow_event,
            delivery=delivery,
            intents=self._touched(event.repository),
            dead=self._dead(since=started),
            held=self._held(),
            timed_out=timed_out,
        )

    def feed(self, event: RunnerEvent) -> str:
        """Record the event as a delivery and queue its jobs; what the intake made of it."""
        if event.webhook_event == "workflow_dispatch":
            self._dispatch(event)
            return "dispatched"
        intake = WebhookIntake(routes=self.routes, queue=self.context.queue, bot_login=self.line.bot_login)
        parsed = sansio.Event(event.payload, event=event.webhook_event, delivery_id=event.delivery_id)
        return intake.record(parsed, event.body, hook_id=ACTIONS_HOOK).outcome.value

    def _dispatch(self, event: RunnerEvent) -> None:
        """Each intent on the default branch read as if pushed by the author of its newest commit (who
        then may not approve it), else by whoever dispatched: the push that brought it is not known."""
        repo = self.line.repo(event.repository)
        branch = repo.default_branch()
        head = repo.branch_head(branch)
        if head is None:
            return
        before = repo.commit_parent(head) or ""
        sender = event.payload.get("sender")
        dispatcher = str(sender.get("login", "")) if isinstance(sender, dict) else ""
        message = DISPATCHED.format(branch=branch, sha=head[:12])
        for path in (p for p in repo.list_dir(INTENTS_DIR.rstrip("/"), head) if is_intent_path(p)):
            push = PushEvent(
                repo=event.repository,
                sender=repo.last_author(path, head) or dispatcher,
                installation_id=None,
                ref=f"refs/heads/{branch}",
                before=before,
                after=head,
                default_branch=branch,
                pusher="",
                commits=(Commit(head, message, (path,), (), ()),),
                deleted=False,
                forced=False,
            )
            intent_flow.on_push(push, self.context)

    def drain(self, *, hold_deploys: bool, deadline: float) -> bool:
        """Run jobs until none is left to run (held deploys aside); False when `deadline` came first."""
        pause = threading.Event()
        while True:
            if hold_deploys:
                self._hold_deploys()
            if self.worker.run_once():
                continue
            if self._deploy_merged():
                continue
            due = self._next_due()
            if due is None:
                return True
            now = self.clock()
            if now >= deadline:
                return False
            pause.wait(min(max(due - now, 0.05), deadline - now))  # a retry's backoff, as scheduled

    def _deploy_merged(self) -> bool:
        """Queue the deploy of each intent pull request merged while this run worked (True if any): the
        closed event of a merge the line made with the workflow's token starts no run of its own."""
        queued = False
        for record in self._touched(None):
            if record.state in WAITING_STATES and record.pr_number is not None:
                queued = self._deploy_if_merged(record.repo, record.pr_number) or queued
        return queued

    def _deploy_if_merged(self, repository: str, number: int) -> bool:
        pull = self.line.repo(repository).get_pull(number)
        if not pull.merged or not pull.merge_commit_sha:
            return False
        if self.context.queue.find(f"deploy:{repository}:{number}:{pull.merge_commit_sha}") is not None:
            return False  # the key `merges.on_closed` gives it: queued, run or held already
        closed = PullRequestEvent(
            repo=repository,
            sender=self.line.bot_login,
            installation_id=None,
            action="closed",
            number=number,
            title=pull.title,
            head_ref=pull.head_ref,
            head_sha=pull.head_sha,
            base_ref=pull.base_ref,
            merged=True,
            merge_commit_sha=pull.merge_commit_sha,
            author=pull.author,
        )
        merge_flow.on_closed(closed, self.context)
        return True

    def _next_due(self) -> float | None:
        """When the next queued job may run (None: nothing is queued or running but held deploys)."""
        with self.context.database.session() as session:
            due = session.execute(
                select(JOBS.c.run_after, JOBS.c.lease_expires_at, JOBS.c.state)
                .where(JOBS.c.state.in_((JobState.QUEUED.value, JobState.RUNNING.value)))
                .where(JOBS.c.run_after < HELD_UNTIL)
            ).all()
        queued = JobState.QUEUED.value
        times = [run_after if state == queued else (lease or 0.0) for run_after, lease, state in due]
        return min(times) if times else None

    def _hold_deploys(self) -> None:
        with self.context.database.session() as session:
            session.execute(
                update(JOBS)
                .where(JOBS.c.kind == JobKind.DEPLOY.value, JOBS.c.state == JobState.QUEUED.value)
                .where(JOBS.c.run_after < HELD_UNTIL)
                .values(run_after=HELD_UNTIL)
            )

    def _release_deploys(self) -> None:
        with self.context.database.session() as session:
            session.execute(update(JOBS).where(JOBS.c.run_after >= HELD_UNTIL).values(run_after=self.clock()))

    def _held(self) -> tuple[str, ...]:
        with self.context.database.session() as session:
            keys = session.scalars(
                select(JOBS.c.key)
                .where(JOBS.c.state == JobState.QUEUED.value, JOBS.c.run_after >= HELD_UNTIL)
                .order_by(JOBS.c.id)
            ).all()
        return tuple(keys)

    def _dead(self, *, since: float) -> tuple[DeadJob, ...]:
        with self.context.database.session() as session:
            rows = session.execute(
                select(JOBS.c.kind, JOBS.c.key, JOBS.c.last_error)
                .where(JOBS.c.state == JobState.DEAD.value, JOBS.c.updated_at >= since)
                .order_by(JOBS.c.id)
            ).all()
        return tuple(DeadJob(kind, key, error or "") for kind, key, error in rows)

    def _touched(self, repository: str | None) -> tuple[IntentRecord, ...]:
        """The intents whose record changed since the run began (of `repository`, when given)."""
        records = self.line.ledger.list_intents(limit=500)
        return tuple(
            sorted(
                (r for r in records if repository in (None, r.repo) and _aware(r.updated_at) >= self._since),
                key=lambda r: r.path,
            )
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
