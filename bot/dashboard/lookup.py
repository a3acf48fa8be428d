"""Finding the intent an address names: ids outside what the database can hold are simply unknown."""

from __future__ import annotations

from fastapi import HTTPException, status

from bot.dashboard.context import DashboardContext
from bot.dashboard.text import UNKNOWN_INTENT
from pipeline.ledger import IntentRecord, UnknownIntent

# The largest id SQLite and PostgreSQL (BIGINT) store; a larger one would fail in the driver, not miss.
MAX_ID = 2**63 - 1


def record_or_404(context: DashboardContext, intent_id: int) -> IntentRecord:
    """The intent with this id, or a 404 page that says there is none."""
    if not 1 <= intent_id <= MAX_ID:
        raise HTTPException(status.HTTP_404_NOT_FOUND, UNKNOWN_INTENT.format(intent_id=intent_id))
    try:
        return context.ledger.get(intent_id)
    except UnknownIntent:
        raise HTTPException(status.HTTP_404_NOT_FOUND, UNKNOWN_INTENT.format(intent_id=intent_id)) from None
