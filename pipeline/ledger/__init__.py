"""The intent ledger: state, stage history, decisions and sign-offs of every intent."""

from pipeline.ledger.checks import Checks, GovernedPull, TestedBy, TestedHead
from pipeline.ledger.ledger import (
    IntentRecord,
    IntentState,
    Ledger,
    Outcome,
    Stage,
    StageEvent,
    StageRun,
    UnknownIntent,
    UnreadableRecord,
)
from pipeline.ledger.lifecycle import Event, Transition

__all__ = [
    "Event",
    "Transition",
    "Checks",
    "GovernedPull",
    "TestedBy",
    "TestedHead",
    "IntentRecord",
    "IntentState",
    "Ledger",
    "Outcome",
    "Stage",
    "StageEvent",
    "StageRun",
    "UnknownIntent",
    "UnreadableRecord",
]
