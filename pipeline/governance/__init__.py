"""Governance: policy rules (CEL) and blueprint alignment decide whether an intent may proceed."""

from pipeline.governance.alignment import (
    Alignment,
    AlignmentMethod,
    AlignmentScorer,
    AlignmentUnavailable,
    ClaudeScorer,
    GivenScore,
    LexicalScorer,
    scorer_for,
)
from pipeline.governance.decision import (
    DECISION_VERSION,
    AlignmentReport,
    Decision,
    GovernanceError,
    MatchedPolicy,
)
from pipeline.governance.engine import govern
from pipeline.governance.loading import (
    PolicyLoadError,
    PolicySet,
    PolicyStore,
    StoreUpdate,
    load_policies,
    load_policy_sources,
    read_policy_path,
)
from pipeline.governance.policy import Policy, PolicyAction, PolicyProblem
from pipeline.governance.rules import RuleLimits
from pipeline.governance.variables import LINE_STAGES, PushContext, is_self_modification

__all__ = [
    "DECISION_VERSION",
    "LINE_STAGES",
    "Alignment",
    "AlignmentMethod",
    "AlignmentReport",
    "AlignmentScorer",
    "AlignmentUnavailable",
    "ClaudeScorer",
    "Decision",
    "GivenScore",
    "GovernanceError",
    "LexicalScorer",
    "MatchedPolicy",
    "Policy",
    "PolicyAction",
    "PolicyLoadError",
    "PolicyProblem",
    "PolicySet",
    "PolicyStore",
    "PushContext",
    "RuleLimits",
    "StoreUpdate",
    "govern",
    "is_self_modification",
    "load_policies",
    "load_policy_sources",
    "read_policy_path",
    "scorer_for",
]
