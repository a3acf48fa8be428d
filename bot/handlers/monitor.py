"""The assembly-line monitor in the bot: after the line's own work moves (a push to the default branch, an
intent's pull request opened, updated or closed), evaluate the monitor rules on the line's metrics and file
an improvement intent as a pull request when one fires.

It never reacts to its own pull requests (events on its branches are dropped before they become jobs),
keeps at most one open pull request per rule and files at most INTENTOPS_MONITOR_MAX_PER_DAY a day. What it
files is governed like any change the line proposes to itself: two approvals, never merged by the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.events import PullRequestEvent, PushEvent
from bot.handlers.common import require_line
from bot.handlers.deadletters import report_dead
from bot.handlers.governing import governing_files
from bot.handlers.payloads import JobPayload
from bot.handlers.policy_changes import evaluate_change
from bot.line import Line
from bot.queue import JOBS, Job, JobState
from bot.routing import BotContext, Routes
from bot.vcs.client import RepoClient
from bot.vcs.models import StatusContext, StatusState
from pipeline.governance import PolicyStore
from pipeline.ledger.checks import GovernedPull
from pipeline.ledger.tables import IntentEventRow, IntentRow
from pipeline.monitor import FilingStore, LoadedRules, Outcome, Plan, line_metrics, load_rule_dir, plan_rules
from pipeline.monitor.report import COMMIT, PULL_TITLE, pull_body
from pipeline.monitor.rules import SHIPPED_RULES
from pipeline.policychange import change_decision

log = logging.getLogger(__name__)
routes = Routes()

MONITOR_JOB = "line.monitor"
MONITOR_KEYS = "monitor:{repo}:"
"""What every monitor job's key for a repository starts with (those queued after events, and the timer's)."""
MONITOR_BRANCH = "intentops/monitor-{rule}"
MONITOR_BRANCH_PREFIX = "intentops/monitor-"
CLAIM_GRACE = timedelta(minutes=10)
"""A claimed filing still without a pull request after this long was lost in a crash: the rule may file."""
NOT_APPLICABLE = "Not applicable: the intent this adds is built and tested once it is merged"


class MonitorPayload(JobPayload):
    """The repository whose line the monitor looks at."""


def _own_branch(branch: str | None) -> bool:
    return bool(branch) and str(branch).startswith(MONITOR_BRANCH_PREFIX)


def _ledger_mark(context: BotContext, repo: str) -> int:
    """The repository's newest stage event: the monitor looks again only when the ledger moved."""
    query = (
        select(func.max(IntentEventRow.id))
        .join(IntentRow, IntentRow.id == IntentEventRow.intent_id)
        .where(IntentRow.repo == repo)
    )
    with context.database.session() as session:
        return int(session.scalar(query) or 0)


def monitor_job_in(context: BotContext, repo: str, states: Collection[JobState]) -> bool:
    """Whether a monitor job for `repo` is in one of `states`."""
    query = (
        select(JOBS.c.id)
        .where(
            JOBS.c.kind == MONITOR_JOB,
            JOBS.c.key.startswith(MONITOR_KEYS.format(repo=repo), autoescape=True),
            JOBS.c.state.in_([state.value for state in states]),
        )
        .limit(1)
    )
    with context.database.session() as session:
        return session.execute(query).first() is not None


def start_monitor(context: BotContext, repo: str) -> None:
    """Queue a look at `repo`'s line, once per state of its ledger; none when one is already waiting to
    start (a push of a hundred intents opens a hundred pull requests: the line is looked at as it is when a
    worker gets to it, not a hundred times)."""
    if not context.settings.monitor_enabled or monitor_job_in(context, repo, [JobState.QUEUED]):
        return
    mark = _ledger_mark(context, repo)
    key = f"{MONITOR_KEYS.format(repo=repo)}{mark}"
    context.queue.enqueue(MONITOR_JOB, key=key, payload=MonitorPayload(repo=repo))


@routes.on(PushEvent)
def on_push(event: PushEvent, context: BotContext) -> None:
    if event.to_default_branch and not event.deleted:
        start_monitor(context, event.repo)


@routes.on(PullRequestEvent, action="opened", include_own=True)
@routes.on(PullRequestEvent, action="synchronize", include_own=True)
@routes.on(PullRequestEvent, action="closed", include_own=True)
def on_pull(event: PullRequestEvent, context: BotContext) -> None:
    """The bot's own intent pull requests are what a build leaves: the monitor looks after them. Its own
    pull requests (its branches) are never a reason to look: no loops."""
    if not _own_branch(event.head_ref):
        start_monitor(context, event.repo)


def rules_for(folder: Path | None) -> LoadedRules:
    """The rules in `folder` (INTENTOPS_MONITOR_RULES) or those shipped; rules that do not load are logged."""
    loaded = load_rule_dir(folder or SHIPPED_RULES)
    for problem in loaded.problems:
        log.warning("monitor rule not loaded: %s", problem)
    return loaded


@routes.job(MONITOR_JOB, on_dead=report_dead, payload=MonitorPayload)
def monitor(job: Job, context: BotContext) -> None:
    line = require_line(context)
    payload = MonitorPayload.of(job)
    repo = line.repo(payload.repo)
    loaded = rules_for(context.settings.monitor_rules)
    store = FilingStore(context.database)
    outcomes = evaluate_line(line, repo, loaded, store, max_per_day=context.settings.monitor_max_per_day)
    for outcome in outcomes:
        if outcome.plan is Plan.FILE:
            file_intent(
                line, repo, outcome, store, max_per_day=context.settings.monitor_max_per_day, once=job.key
            )


def evaluate_line(
    line: Line, repo: RepoClient, loaded: LoadedRules, store: FilingStore, *, max_per_day: int
) -> list[Outcome]:
    """What each rule says about `repo`'s line now (closing the filings whose pull requests closed)."""
    now = datetime.now(UTC)
    open_pulls = _open_pulls(repo, store, now)

    def taken(service: str) -> bool:
        """Whether an intent already has the name (the forge is asked only when a rule fires)."""
        path = f"intents/{service}.yaml"
        return bool(line.ledger.records_for_service(repo.full_name, service)) or (
            repo.read_file(path, repo.default_branch()) is not None
        )

    return plan_rules(
        loaded.rules,
        metrics_for=lambda days: line_metrics(line.ledger.database, repo=repo.full_name, days=days, now=now),
        open_pulls=open_pulls,
        filed_today=store.filed_today(repo.full_name),
        max_per_day=max_per_day,
        taken=taken,
    )


def _open_pulls(repo: RepoClient, store: FilingStore, now: datetime) -> dict[str, int]:
    open_pulls: dict[str, int] = {}
    for filing in store.open_filings(repo.full_name):
        if filing.pr_number is None:  # claimed, its pull request not yet noted: finished by the next filing
            filed = filing.filed_at if filing.filed_at.tzinfo else filing.filed_at.replace(tzinfo=UTC)
            if now - filed > CLAIM_GRACE:
                store.close(filing.id)
            continue
        if repo.get_pull(filing.pr_number).state == "open":
            open_pulls[filing.rule] = filing.pr_number
        else:
            store.close(filing.id)
    return open_pulls


def file_intent(
    line: Line, repo: RepoClient, outcome: Outcome, store: FilingStore, *, max_per_day: int, once: str
) -> int | None:
    """Claim the rule's filing, then open its pull request adding the intent; None when the claim was lost
    (another worker filed for this rule, or the day's filings are used up)."""
    rule = outcome.rule
    claim = store.claim(
        repo.full_name, rule=rule.name, path=outcome.intent_path, max_per_day=max_per_day
    ) or store.unfinished(repo.full_name, rule.name)
    if claim is None:
        return None
    branch = MONITOR_BRANCH.format(rule=rule.name)
    default = repo.default_branch()
    title = PULL_TITLE.format(service=outcome.service_name, rule=rule.name)
    line.workspace(repo.full_name).add_files(
        branch=branch,
        base=default,
        files={outcome.intent_path: outcome.intent_text.encode()},
        message=COMMIT.format(service=outcome.service_name, rule=rule.name),
    )
    body = pull_body(outcome)
    pull = repo.find_open_pull(branch)
    if pull is None:
        pull = repo.create_pull(head=branch, base=default, title=title, body=body)
    else:
        repo.update_pull(pull.number, title=title, body=body)
    store.note_pull(claim.id, pull.number)
    _govern(line, repo, pull.number, outcome.intent_path)
    log.info(
        "%s: monitor rule %s filed %s as #%d", repo.full_name, rule.name, outcome.intent_path, pull.number
    )
    return pull.number


def _govern(line: Line, repo: RepoClient, number: int, path: str) -> None:
    """Govern the filing like a change of the line: under the policies in force and the floor, at least two
    approvals, never auto-approved; reviews then move its status as they do for a policy change."""
    pull = repo.get_pull(number)
    base = pull.base_sha or repo.branch_head(pull.base_ref) or ""
    current = PolicyStore().update(governing_files(repo, base).policies).in_force
    decision = change_decision(current, files=[path], author=pull.author, floor=line.floor)
    governed = GovernedPull(
        repo=repo.full_name,
        number=number,
        head_sha=pull.head_sha,
        author=pull.author,
        files=(path,),
        decision=decision,
        plan=None,
    )
    line.checks.save_governed_pull(governed)
    for context in (StatusContext.SPEC, StatusContext.TESTS):
        repo.set_status(pull.head_sha, context, StatusState.SUCCESS, NOT_APPLICABLE)
    evaluate_change(line, repo, pull, governed)
