"""Group commit: deliveries written by one thread, many to a transaction, each answered once it committed.

Each request hands its prepared delivery to the writer and awaits its own receipt. The writer thread
commits in one transaction every delivery that arrived while the previous transaction was committing,
so under load a commit (and the hop to the thread) is shared by many deliveries, and when idle a
delivery is committed alone at once: nothing waits for a batch to fill. A receipt is given only after
its commit, so a crash before it means no 202 was sent and GitHub delivers again. A batch that fails is
written again one delivery per transaction, so one delivery the database refuses fails alone.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.webhooks.intake import DeliveryNotRecorded, PendingDelivery, Receipt, WebhookIntake

log = logging.getLogger(__name__)

MAX_BATCH = 256
"""Deliveries in one transaction at most (a burst larger than this is committed in several)."""
WRITER_THREAD = "webhook-writer"

Outcome = Receipt | BaseException
"""What became of one delivery of a batch: its receipt, or why it was not recorded."""


@dataclass
class _Waiting:
    pending: PendingDelivery
    answer: asyncio.Future[Receipt] = field(repr=False)


@dataclass
class _Batch:
    loop: asyncio.AbstractEventLoop
    waiting: list[_Waiting]


class DeliveryWriter:
    """Writes prepared deliveries through `intake`, batching those that arrive together. `write` is
    awaited on the server's event loop; the database work runs on the writer's own thread, started on
    the first delivery and ended when the writer is garbage (it holds no state between batches)."""

    def __init__(self, intake: WebhookIntake, *, max_batch: int = MAX_BATCH) -> None:
        self.intake = intake
        self.max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        """The event loop serving the app; the state below is that loop's, touched only on it."""
        self._waiting: list[_Waiting] = []
        self._in_flight = False
        self._batches: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def write(self, pending: PendingDelivery) -> Receipt:
        """The receipt of `pending` once its transaction committed; `DeliveryNotRecorded` if it failed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A server started again on a new loop: what the old loop had in flight is never answered.
            self._loop, self._waiting, self._in_flight = loop, [], False
        answer: asyncio.Future[Receipt] = loop.create_future()
        self._waiting.append(_Waiting(pending, answer))
        if not self._in_flight:
            self._send(loop)
        return await answer

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the event loop: hand the waiting deliveries to the writer thread as the next batch."""
        batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
        self._in_flight = True
        if self._thread is None:
            self._thread = _start_thread(self._batches, self._commit)
            weakref.finalize(self, self._batches.put, None)
        self._batches.put(_Batch(loop, batch))

    def _answer(self, batch: _Batch, outcomes: list[Outcome]) -> None:
        """On the event loop: answer each request of a committed batch, then send the next batch."""
        if batch.loop is not self._loop:
            return
        self._in_flight = False
        for waiting, outcome in zip(batch.waiting, outcomes, strict=True):
            if waiting.answer.done():  # the client went away: its delivery is stored all the same
                continue
            if isinstance(outcome, Receipt):
                waiting.answer.set_result(outcome)
            else:
                waiting.answer.set_exception(outcome)
        if self._waiting:
            self._send(batch.loop)

    def _commit(self, batch: _Batch) -> None:
        """On the writer thread: the batch written, then its answers handed back to the event loop."""
        pending = [waiting.pending for waiting in batch.waiting]
        try:
            outcomes = self._outcomes(pending)
        except Exception as exc:  # not a database failure: each request of the batch fails with it
            outcomes = [exc] * len(pending)
        try:
            batch.loop.call_soon_threadsafe(self._answer, batch, outcomes)
        except RuntimeError:  # the loop closed with the server: none of these requests was answered
            log.warning("%d webhook deliveries finished after the server stopped answering", len(outcomes))

    def _outcomes(self, pending: list[PendingDelivery]) -> list[Outcome]:
        try:
            receipts = self.intake.write(pending)
        except DeliveryNotRecorded as exc:
            if len(pending) == 1:
                return [_not_recorded(pending[0], exc)]
            return [self._alone(one) for one in pending]
        for one, receipt in zip(pending, receipts, strict=True):
            self.intake.report(one, receipt)
        return [*receipts]

    def _alone(self, pending: PendingDelivery) -> Outcome:
        try:
            (receipt,) = self.intake.write([pending])
        except DeliveryNotRecorded as exc:
            return _not_recorded(pending, exc)
        self.intake.report(pending, receipt)
        return receipt


def _start_thread(
    batches: queue.SimpleQueue[_Batch | None], commit: Callable[[_Batch], None]
) -> threading.Thread:
    """The writer thread: commits batches until it is sent None (holding the writer only weakly)."""
    commit_ref = weakref.WeakMethod(commit)

    def run() -> None:
        while (batch := batches.get()) is not None:
            bound = commit_ref()
            if bound is None:
                return
            bound(batch)
            del bound

    thread = threading.Thread(target=run, name=WRITER_THREAD, daemon=True)
    thread.start()
    return thread


def _not_recorded(pending: PendingDelivery, exc: DeliveryNotRecorded) -> DeliveryNotRecorded:
    log.error("webhook delivery %s could not be recorded: %s", pending.event.delivery_id, exc)
    return exc
