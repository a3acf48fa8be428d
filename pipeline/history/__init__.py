"""The line's own history as data: pages of intents with their stages, SPEC rounds, decisions and cost
(`export`), and what the SPECs' findings cost over time with the spec-builder hints that would avoid them
(`analysis`). The read API and the learned scorer's training read it."""

from pipeline.history.analysis import SpecAnalysis, analyze
from pipeline.history.export import HistoryPage, IntentHistory, human_outcome, page

__all__ = ["HistoryPage", "IntentHistory", "SpecAnalysis", "analyze", "human_outcome", "page"]
