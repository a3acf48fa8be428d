"""The assembly-line monitor: rules over the line's own metrics that file improvement intents."""

from pipeline.monitor.evaluate import Outcome, Plan, evidence, plan_rules, wording_hints
from pipeline.monitor.metrics import METRIC_NAMES, LineMetrics, SpecSample, line_metrics
from pipeline.monitor.rules import LoadedRules, MonitorRule, RuleProblem, load_rule_dir, load_rules
from pipeline.monitor.store import Filing, FilingStore

__all__ = [
    "METRIC_NAMES",
    "Filing",
    "FilingStore",
    "LineMetrics",
    "LoadedRules",
    "MonitorRule",
    "Outcome",
    "Plan",
    "RuleProblem",
    "SpecSample",
    "evidence",
    "line_metrics",
    "load_rule_dir",
    "load_rules",
    "plan_rules",
    "wording_hints",
]
