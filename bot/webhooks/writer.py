"""Group commit: deliveries written by one thread, many to a transaction, each answered once it committed.

Each request hands its prepared delivery to the writer and awaits its own receipt. The writer commits
in one transaction every delivery that arrived while the previous transaction was committing, so under
load a commit (and its hop to a thread) is shared by many deliveries, and when idle a delivery is
committed alone at once: nothing waits for a batch to fill. A receipt is given only after its commit,
so a crash before it means no 202 was sent and GitHub delivers again. A batch that fails is written
again one delivery per transaction, so one delivery the database refuses fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from bot.webhooks.intake import PendingDelivery, Receipt, WebhookIntake

log = logging.getLogger(__name__)

MAX_BATCH = 256
"""Deliveries in one transaction at most (a burst larger than this is committed in several)."""
WRITER_THREAD = "webhook-writer"


class DeliveryNotRecorded(Exception):
    """The database refused or failed the transaction holding this delivery: nothing of it was stored."""


@dataclass
class _Waiting:
    pending: PendingDelivery
    answer: asyncio.Future[Receipt] = field(repr=False)


class DeliveryWriter:
    """Writes prepared deliveries through `intake`, batching those that arrive together (asyncio side:
    `write` is awaited on the server's event loop; the database work runs on the writer's own thread)."""

    def __init__(self, intake: WebhookIntake, *, max_batch: int = MAX_BATCH) -> None:
        self.intake = intake
        self.max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._flushing: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=WRITER_THREAD)

    async def write(self, pending: PendingDelivery) -> Receipt:
        """The receipt of `pending` once its transaction committed; `DeliveryNotRecorded` if it failed."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Receipt] = loop.create_future()
        self._waiting.append(_Waiting(pending, answer))
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush())
        return await answer

    async def _flush(self) -> None:
        """Commit the waiting deliveries batch after batch until none are left."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            results: list[Receipt | BaseException]
            try:
                results = [
                    *await loop.run_in_executor(self._thread, self._commit, [w.pending for w in batch])
                ]
            except asyncio.CancelledError:
                # Cancelled with the server: whether or not that batch commits, none of it is answered 202.
                for waiting in [*batch, *self._waiting]:
                    waiting.answer.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:  # not a database failure: each request of the batch fails with it
                results = [exc] * len(batch)
            for waiting, result in zip(batch, results, strict=True):
                if waiting.answer.done():  # the client went away: its delivery is stored all the same
                    continue
                if isinstance(result, Receipt):
                    waiting.answer.set_result(result)
                else:
                    waiting.answer.set_exception(result)

    def _commit(self, batch: list[PendingDelivery]) -> list[Receipt | DeliveryNotRecorded]:
        """On the writer thread: the batch in one transaction, or, if that fails, each in its own."""
        try:
            receipts = self._transaction(batch)
        except SQLAlchemyError as exc:
            if len(batch) == 1:
                return [_not_recorded(batch[0], exc)]
            return [self._alone(pending) for pending in batch]
        for pending, receipt in zip(batch, receipts, strict=True):
            self.intake.report(pending, receipt)
        return list(receipts)

    def _alone(self, pending: PendingDelivery) -> Receipt | DeliveryNotRecorded:
        try:
            (receipt,) = self._transaction([pending])
        except SQLAlchemyError as exc:
            return _not_recorded(pending, exc)
        self.intake.report(pending, receipt)
        return receipt

    def _transaction(self, batch: list[PendingDelivery]) -> list[Receipt]:
        with self.intake.queue.database.session() as session:
            return [self.intake.write(session, pending) for pending in batch]


def _not_recorded(pending: PendingDelivery, exc: SQLAlchemyError) -> DeliveryNotRecorded:
    log.error("delivery %s could not be recorded: %s", pending.event.delivery_id, exc)
    error = DeliveryNotRecorded(str(exc))
    error.__cause__ = exc
    return error
