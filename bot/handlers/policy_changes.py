"""Pull requests that change what governs the line (`policies/`, `BLUEPRINT.md`): governed, then planned.

Such a pull request is a self-modification of the line: it is decided by the policies of its base plus
the bot's floor (never by the policies it brings), gets an `intentops/governance` status that turns
success only once its sign-off is complete (two approvals by default), and a comment showing, for the
last intents in the ledger, which decisions the proposed policies would change. Proposed policy files that
do not load fail the status with their file and line. It deploys nothing; people merge it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot import reports
from bot.handlers.governing import GoverningFiles, governing_changes, governing_files
from bot.line import Line
from bot.signoffs import latest_approvals
from bot.vcs.client import RepoClient
from bot.vcs.models import PullRequest, StatusContext, StatusState
from pipeline.adoption.stagefile import StageFileError, parse_stage_file
from pipeline.governance import Decision, PolicyAction, PolicyStore
from pipeline.governance.alignment import Alignment, AlignmentUnavailable
from pipeline.governance.loading import PolicySet
from pipeline.governance.policy import PolicyProblem
from pipeline.intents import InvalidIntent, load_intent
from pipeline.ledger import GovernedPull, IntentRecord
from pipeline.policychange import DEFAULT_PLAN_SIZE, PastIntent, Plan, change_decision, plan_change
from pipeline.signoff import SignoffStatus, evaluate_signoff, requirements_of

log = logging.getLogger(__name__)


def govern_pull(line: Line, repo: RepoClient, number: int, *, once: str) -> None:
    """Govern pull request `number` if it changes policies or the blueprint (others: nothing to do)."""
    pull = repo.get_pull(number)
    if pull.state != "open":
        return
    files = governing_changes(repo, number)
    if not files:
        return
    base_ref = pull.base_sha or repo.branch_head(pull.base_ref) or ""
    current_files = governing_files(repo, base_ref)
    proposed_files = governing_files(repo, pull.head_sha)
    current = PolicyStore().update(current_files.policies).in_force
    proposed = PolicyStore().update(proposed_files.policies)
    unusable = _first_problem(proposed.problems, proposed_files)
    if unusable:
        text = reports.POLICY_CHANGE_INVALID.format(problem=unusable)
        repo.set_status(pull.head_sha, StatusContext.GOVERNANCE, StatusState.FAILURE, reports.short(text))
        _not_applicable_statuses(repo, pull.head_sha)
        return
    decision = change_decision(current, files=files, author=pull.author, floor=line.floor)
    known = line.checks.governed_pull(repo.full_name, number)
    planned = known is not None and known.head_sha == pull.head_sha and known.plan is not None
    plan = None
    if not planned:
        plan = _plan(line, repo, current, proposed.in_force, current_files, proposed_files)
    saved = GovernedPull(
        repo=repo.full_name,
        number=number,
        head_sha=pull.head_sha,
        author=pull.author,
        files=tuple(files),
        decision=decision,
        plan=plan.to_json() if plan is not None else (known.plan if known else None),
    )
    line.checks.save_governed_pull(saved)
    if plan is not None:
        repo.comment(number, _plan_comment(saved, plan))
    _not_applicable_statuses(repo, pull.head_sha)
    evaluate_change(line, repo, pull, saved)


def _first_problem(problems: Sequence[PolicyProblem], proposed: GoverningFiles) -> str:
    """Why the proposed policy files or `line/stages.yaml` cannot be used ("" when they can)."""
    if problems:
        problem = problems[0]
        where = f"{problem.file}:{problem.line}" if problem.line else problem.file
        return f"{where}: {problem.message}"
    try:
        parse_stage_file(proposed.stages)
    except StageFileError as exc:
        return exc.problems[0]
    return ""


def evaluate_change(line: Line, repo: RepoClient, pull: PullRequest, governed: GovernedPull) -> SignoffStatus:
    """Bring a policy change's governance status up to date with its sign-off on the current head."""
    decision = governed.decision
    blocked = decision.action is PolicyAction.BLOCKED
    if blocked:
        text = reports.POLICY_CHANGE_BLOCKED.format(summary=decision.summary)
        repo.set_status(pull.head_sha, StatusContext.GOVERNANCE, StatusState.FAILURE, reports.short(text))
    status = evaluate_signoff(
        required=0,
        approvers=(),
        requirements=requirements_of(decision),
        authors=(pull.author,),
        bot=line.bot_login,
        head_sha=pull.head_sha,
        approvals=latest_approvals(repo.reviews(pull.number)),
        permission_of=repo.permission,
        team_member=repo.team_member,
    )
    if blocked:
        return status
    if status.satisfied:
        text = reports.POLICY_CHANGE_SIGNED.format(who=", ".join(status.counted))
        repo.set_status(pull.head_sha, StatusContext.GOVERNANCE, StatusState.SUCCESS, reports.short(text))
    else:
        text = reports.POLICY_CHANGE_WAITING.format(waiting=status.waiting_for())
        repo.set_status(pull.head_sha, StatusContext.GOVERNANCE, StatusState.PENDING, reports.short(text))
    return status


def evaluate_governed_pull(line: Line, repo: RepoClient, number: int) -> SignoffStatus | None:
    """For a review on a pull request that is not an intent's: re-evaluate it if it is a policy change."""
    governed = line.checks.governed_pull(repo.full_name, number)
    if governed is None:
        return None
    pull = repo.get_pull(number)
    if pull.state != "open":
        return None
    if pull.head_sha != governed.head_sha:
        return None  # new commits: their own job governs the new head
    return evaluate_change(line, repo, pull, governed)


def _not_applicable_statuses(repo: RepoClient, sha: str) -> None:
    """A protected default branch asks every pull request for the spec and tests statuses: a policy
    change has no service, so they pass with that said."""
    for context in (StatusContext.SPEC, StatusContext.TESTS):
        repo.set_status(sha, context, StatusState.SUCCESS, reports.NOT_APPLICABLE)


def _plan(
    line: Line,
    repo: RepoClient,
    current: PolicySet | None,
    proposed: PolicySet | None,
    current_files: GoverningFiles,
    proposed_files: GoverningFiles,
) -> Plan:
    records = [r for r in line.ledger.list_intents(limit=DEFAULT_PLAN_SIZE) if r.repo == repo.full_name]
    past: list[PastIntent] = []
    unreadable: list[str] = []
    for record in records:
        item = _past_intent(repo, record)
        if item is None:
            unreadable.append(record.path)
        else:
            past.append(item)
    rescored: dict[str, Alignment | None] | None = None
    if proposed_files.blueprint != current_files.blueprint:
        rescored = _rescore(line, past, proposed_files.blueprint_text)
    return plan_change(
        past,
        current=current,
        proposed=proposed,
        floor=line.floor,
        proposed_alignment=rescored,
        unreadable=unreadable,
    )


def _past_intent(repo: RepoClient, record: IntentRecord) -> PastIntent | None:
    if not record.commit_sha or record.decision is None:
        return None
    data = repo.read_file(record.path, record.commit_sha)
    if data is None:
        return None
    try:
        intent = load_intent(data, source=record.path)
    except InvalidIntent:
        return None
    return PastIntent(record.path, intent, _alignment_of(record.decision), record.author)


def _alignment_of(decision: Decision) -> Alignment | None:
    """The alignment the decision recorded, to replay it without asking a scorer again."""
    recorded = decision.alignment
    if recorded.score is None or recorded.method is None:
        return None
    return Alignment(recorded.score, recorded.method, recorded.rationale, recorded.model)


def _rescore(line: Line, past: list[PastIntent], blueprint: str | None) -> dict[str, Alignment | None]:
    """Scores against the proposed blueprint (the offline scorer, or the model through its budget)."""
    scorer = line.factory.stages.scorer(line.provider)
    scores: dict[str, Alignment | None] = {}
    for item in past:
        if blueprint is None:
            scores[item.path] = None
            continue
        try:
            scores[item.path] = scorer.score(item.intent, blueprint)
        except AlignmentUnavailable as exc:
            log.info("could not score %s against the proposed blueprint: %s", item.path, exc)
            scores[item.path] = None
    return scores


def _plan_comment(governed: GovernedPull, plan: Plan) -> str:
    return reports.render(
        "policy_change",
        files=governed.files,
        head=governed.head_sha,
        decision=governed.decision.to_json(),
        plan=plan.to_json(),
    )
