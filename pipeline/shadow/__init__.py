"""Shadow evaluation: prove a candidate stage on recent real work before the line adopts it.

`evaluate` runs a candidate implementation of a stage beside the incumbent on recent intents
(`cases_from_ledger`, or `load_history` for a written history such as the bundled one) and the stage's
fixed sets; the referees (the line's own stages) grade both, with metrics declared per stage beforehand
(`metrics_for`). The `ShadowReport` holds every metric, incumbent vs candidate with per-intent rows, and a
verdict with the rule that decided it; `ShadowStore` keeps reports in the state database.
"""

from pipeline.shadow.calls import DEFAULT_CALL_TIMEOUT_S
from pipeline.shadow.cases import (
    DEFAULT_CASES,
    PickedCases,
    ShadowCase,
    cases_from_ledger,
    outcome_of,
    pick_cases,
)
from pipeline.shadow.datafiles import ShadowDataError
from pipeline.shadow.engine import evaluate
from pipeline.shadow.history import BUNDLED_HISTORY, BUNDLED_SOURCE, history_source, load_history
from pipeline.shadow.metrics import metrics_for
from pipeline.shadow.model import (
    REPORT_VERSION,
    Aggregate,
    CaseSummary,
    Comparison,
    Direction,
    HumanOutcome,
    MetricResult,
    MetricSpec,
    Role,
    Row,
    ShadowReport,
    Verdict,
)
from pipeline.shadow.run import Referees
from pipeline.shadow.store import ShadowStore, StoredReport, UnknownReport

__all__ = [
    "BUNDLED_HISTORY",
    "BUNDLED_SOURCE",
    "DEFAULT_CALL_TIMEOUT_S",
    "DEFAULT_CASES",
    "REPORT_VERSION",
    "Aggregate",
    "CaseSummary",
    "Comparison",
    "Direction",
    "HumanOutcome",
    "MetricResult",
    "MetricSpec",
    "PickedCases",
    "Referees",
    "Role",
    "Row",
    "ShadowCase",
    "ShadowDataError",
    "ShadowReport",
    "ShadowStore",
    "StoredReport",
    "UnknownReport",
    "Verdict",
    "cases_from_ledger",
    "evaluate",
    "history_source",
    "load_history",
    "metrics_for",
    "outcome_of",
    "pick_cases",
]
