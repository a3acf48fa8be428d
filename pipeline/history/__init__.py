"""The line's own history as data: pages of intents with their stages, SPEC rounds, decisions and cost
(`export`), and what the SPECs' findings cost over time with the spec-builder hints that would avoid them
(`analysis`). The read API, the learned scorer's training and the spec-analyzer service read it.

`export` reads the ledger's database; `records` and `analysis` do not, and a service of the line imports
them without a database driver, so the names below are imported when first asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "HistoryPage": "pipeline.history.export",
    "page": "pipeline.history.export",
    "human_outcome": "pipeline.history.export",
    "IntentHistory": "pipeline.history.records",
    "SpecAnalysis": "pipeline.history.analysis",
    "analyze": "pipeline.history.analysis",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pipeline.history' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
