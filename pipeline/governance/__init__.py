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
    FINDINGS_FORCE_APPROVAL,
    HEURISTIC_ONLY_INFORMS,
    LEXICAL_ONLY_INFORMS,
    AlignmentReport,
    Decision,
    GovernanceError,
    MatchedPolicy,
)
from pipeline.governance.engine import govern
from pipeline.governance.findings import ADDRESSED_PHRASES, Finding, find_addressed_text
from pipeline.governance.floor import FloorLoadError, load_floor
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
    "ADDRESSED_PHRASES",
    "DECISION_VERSION",
    "FINDINGS_FORCE_APPROVAL",
    "HEURISTIC_ONLY_INFORMS",
    "LEXICAL_ONLY_INFORMS",
    "LINE_STAGES",
    "Alignment",
    "AlignmentMethod",
    "AlignmentReport",
    "AlignmentScorer",
    "AlignmentUnavailable",
    "ClaudeScorer",
    "Decision",
    "Finding",
    "FloorLoadError",
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
    "find_addressed_text",
    "govern",
    "is_self_modification",
    "load_floor",
    "load_policies",
    "load_policy_sources",
    "read_policy_path",
    "scorer_for",
]
