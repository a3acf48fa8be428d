"""Intents pushed to the default branch: validate, govern, build, and open or update their pull request.

A push becomes one `intent.read` job per changed intent file (keyed by commit), which becomes one
`intent.build` job per distinct content (keyed by repo, path, content hash, stage): a redelivered
webhook, a retried job or the same content pushed twice builds once and updates one PR.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bot import reports
from bot.events import PushEvent
from bot.handlers.common import SERVICE_BRANCH, SERVICES_DIR, JobKind, is_intent_path, require_line
from bot.handlers.deadletters import report_dead
from bot.handlers.governing import GoverningFiles, governing_files
from bot.handlers.notices import close_opened_issue, fail_commit, notify
from bot.handlers.payloads import CommitPayload, IntentPayload
from bot.handlers.stages import report_suspensions, stages_for
from bot.line import Line
from bot.queue import IdempotencyKey, Job
from bot.routing import BotContext, Routes
from bot.vcs.client import RepoClient
from bot.vcs.errors import Invalid
from bot.vcs.models import LineNote, PullRequest, StatusContext, StatusState
from pipeline.adoption.fallback import AdoptedStages
from pipeline.adoption.stagefile import STAGES_FILE
from pipeline.assembly import BuildOutcome, BuildVerdict, build_service
from pipeline.factory.contracts import Stage as FactoryStage
from pipeline.factory.routing import BUILTIN
from pipeline.governance import Decision, PolicyAction, PushContext, govern
from pipeline.governance.alignment import AlignmentScorer
from pipeline.governance.cache import AlignmentCache, CachingScorer
from pipeline.governance.variables import rule_variables
from pipeline.intents import Intent, IntentProblem, InvalidIntent, duplicate_names, load_intent
from pipeline.intents.serialize import content_hash
from pipeline.ledger import Event, IntentRecord, IntentState, Outcome, Stage, TestedBy
from pipeline.ledger.lifecycle import PAST_MERGE

routes = Routes()


@routes.on(PushEvent)
def on_push(event: PushEvent, context: BotContext) -> None:
    """Queue the intents a push to the default branch added, changed or removed."""
    if not event.to_default_branch or event.deleted:
        return
    present, removed = event.changed_paths()
    changed_files = sorted(present | removed)
    for path in sorted(p for p in present if is_intent_path(p)):
        payload = _payload(event, path, changed_files)
        context.queue.enqueue(JobKind.READ, key=f"read:{event.repo}:{path}:{event.after}", payload=payload)
    if STAGES_FILE in present | removed:
        context.queue.enqueue(
            JobKind.STAGES,
            key=f"stages:{event.repo}:{event.after}",
            payload=CommitPayload(repo=event.repo, sha=event.after, base=_base(event)),
        )
    for path in sorted(p for p in removed if is_intent_path(p)):
        payload = _payload(event, path, changed_files)
        context.queue.enqueue(
            JobKind.UNDEPLOY, key=f"undeploy:{event.repo}:{path}:{event.after}", payload=payload
        )


NO_COMMIT = "0" * 40
"""What a push event's `before` is when the branch did not exist."""


def _base(event: PushEvent) -> str:
    """The default branch as it was before the push ("" when it is new): its policies, blueprint and stage
    routing govern the push, so a change to them never decides its own fate."""
    return "" if event.before.strip("0") == "" else event.before


def _payload(event: PushEvent, path: str, changed_files: list[str]) -> IntentPayload:
    return IntentPayload(
        repo=event.repo,
        path=path,
        sha=event.after,
        base=_base(event),
        author=event.sender,
        changed_files=tuple(changed_files),
    )


@routes.job(JobKind.READ, on_dead=report_dead, payload=IntentPayload)
def read_intent(job: Job, context: BotContext) -> None:
    """Validate one intent file as committed; a valid one is queued for building under its content hash."""
    line = require_line(context)
    payload = IntentPayload.of(job)
    repo = line.files.reader(line.repo(payload.repo))
    data = repo.read_file(payload.path, payload.sha)
    if data is None:
        return  # gone again by the end of the push: its removal is handled as such
    try:
        intent = load_intent(data, source=payload.path)
    except InvalidIntent as exc:
        _report_invalid(line, repo, payload, content_hash(data), exc.problems)
        return
    taken = name_taken(line, repo, payload, data, intent)
    if taken:
        _report_invalid(line, repo, payload, content_hash(data), taken)
        return
    digest = content_hash(data)
    context.queue.enqueue(
        JobKind.BUILD,
        key=IdempotencyKey(payload.repo, payload.path, digest, "build"),
        payload=payload.model_copy(update={"content_hash": digest}),
        priority=intent.priority.rank,
    )


def name_taken(
    line: Line, repo: RepoClient, payload: IntentPayload, data: bytes, intent: Intent
) -> list[IntentProblem]:
    """Problems when another intent file owns this file's service name (`pipeline.intents.owners`): the
    file the ledger has known longest under the name keeps it while it still says it; otherwise a file
    already on the default branch beats one this push adds; otherwise the first path in sorted order."""
    path, sha = payload.path, payload.sha
    records = line.ledger.records_for_service(payload.repo, intent.service_name)
    owner = next((r.path for r in records if r.state is not IntentState.INVALID), None)
    pushed = {p for p in payload.changed_files if is_intent_path(p)}
    files: dict[str, bytes | Intent] = {path: data}
    for other in sorted(({r.path for r in records} | pushed) - {path}):
        # Every intent of a push reads every other: each file is fetched and parsed once per process.
        content = repo.read_file(other, sha)
        parsed = line.files.intent(content, source=other) if content is not None else None
        if parsed is not None:  # an invalid file claims no name
            files[other] = parsed
    problems = duplicate_names(
        files,
        known_owners={intent.service_name: owner} if owner else None,
        earlier=[p for p in files if p not in pushed],
    )
    return [problem for problem in problems if problem.file == path]


def _report_invalid(
    line: Line, repo: RepoClient, payload: IntentPayload, digest: str, problems: list[IntentProblem]
) -> None:
    path = payload.path
    service = path.removeprefix("intents/").rsplit(".", 1)[0].replace("/", "-")[:63]
    record, new = line.ledger.receive(
        repo=payload.repo,
        path=path,
        service_name=service,
        content_hash=digest,
        author=payload.author,
        commit_sha=payload.sha,
    )
    line.ledger.apply(record.id, Event.INVALID, reason=f"a fix: {problems[0]}")
    line.ledger.record(
        record.id,
        Stage.GOVERNED,
        Outcome.FAILED,
        str(problems[0]),
        detail={"problems": [p.to_json() for p in problems]},
    )
    notes = [LineNote(p.file, p.line, p.column, _problem_text(p), reports.INVALID_TITLE) for p in problems]
    description = reports.INVALID_STATUS.format(problem=problems[0])
    fail_commit(line, repo, payload.sha, description, record, notes=notes)
    if new:
        body = reports.render("invalid", path=path, problems=problems)
        notify(line, repo, line.ledger.get(record.id), body, kind="invalid")


def _problem_text(problem: IntentProblem) -> str:
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


@routes.job(JobKind.BUILD, on_dead=report_dead, payload=IntentPayload)
def build_intent(job: Job, context: BotContext) -> None:
    """Govern and build one intent's content, then open or update its pull request."""
    line = require_line(context)
    payload = IntentPayload.of(job)
    repo = line.files.reader(line.repo(payload.repo))  # the read job fetched the file; so did other builds
    data = repo.read_file(payload.path, payload.sha)  # the policies and blueprint at the push's base
    if data is None:
        return
    intent = line.files.intent(data, source=payload.path) or load_intent(data, source=payload.path)
    record, _ = line.ledger.receive(
        repo=payload.repo,
        path=payload.path,
        service_name=intent.service_name,
        content_hash=payload.content_hash,
        priority=intent.priority.value,
        author=payload.author,
        commit_sha=payload.sha,
    )
    if record.state in PAST_MERGE and not payload.rebuild:
        return  # a retried attempt after this content was built and merged: nothing is left to do here
    rules = governing_files(repo, payload.base)
    adopted, plan, stage_file_problem = stages_for(line, payload.repo, rules)
    decision = _govern(line, repo, intent, record, payload, rules, adopted, once=job.key)
    if decision.action is PolicyAction.BLOCKED:
        push = PushContext.of(author=payload.author, changed_files=payload.changed_files)
        variables = rule_variables(intent, push, alignment_score=None, alignment_method="")
        _report_blocked(line, repo, record, decision, payload.sha, variables)
        return
    if not intent.auto_build:
        line.ledger.apply(record.id, Event.HELD)
        return
    notes = {stage.value: why for stage, why in plan.builtin_because.items()}
    if stage_file_problem:
        notes["line/stages.yaml"] = stage_file_problem
    outcome = _build(line, record, intent, rules.blueprint_text, adopted, notes, once=job.key)
    report_suspensions(line, repo, adopted, once=job.key)
    if outcome.verdict is BuildVerdict.SPEC_BELOW_GATE:
        _report_below_gate(line, repo, record, outcome, payload.sha)
        return
    _open_pull_request(line, repo, record, intent, decision, outcome, before=record, once=job.key)


def _govern(
    line: Line,
    repo: RepoClient,
    intent: Intent,
    record: IntentRecord,
    payload: IntentPayload,
    rules: GoverningFiles,
    adopted: AdoptedStages,
    *,
    once: str,
) -> Decision:
    """Decide with the policies and blueprint the default branch had before the push (plus the bot's
    floor), never with those the push brings."""
    with line.ledger.stage(record.id, Stage.GOVERNED, once=once) as run:
        update = line.policies(payload.repo).update(rules.policies)
        decision = govern(
            intent,
            update.in_force,
            scorer=_scorer(line, record, adopted),
            blueprint=rules.blueprint_text,
            context=PushContext.of(author=payload.author, changed_files=payload.changed_files),
            policy_problems=update.problems,
            floor=line.floor,
        )
        run.message = f"{decision.action.value}: {decision.summary}"
        run.detail = {"action": decision.action.value}
    line.ledger.record_decision(record.id, decision)
    return decision


def _scorer(line: Line, record: IntentRecord, adopted: AdoptedStages) -> AlignmentScorer:
    """The alignment-scorer stage as the line routes it (built in, or a stage service). A model's or a
    service's scores are recorded, so a retry or a second worker reaches the same decision for free."""
    scorer = adopted.scorer(line.provider, budget_key=_budget_key(record))
    routed = adopted.describe()[FactoryStage.ALIGNMENT_SCORER.value]
    if line.provider.offline and routed == BUILTIN:
        return scorer  # the lexical scorer is deterministic already
    namespace = f"{line.provider.name}:{getattr(line.provider, 'model', '')}" if routed == BUILTIN else routed
    return CachingScorer(scorer, AlignmentCache(line.ledger.database), namespace=namespace)


def _budget_key(record: IntentRecord) -> str:
    return f"{record.repo}:{record.path}"


def _report_blocked(
    line: Line,
    repo: RepoClient,
    record: IntentRecord,
    decision: Decision,
    sha: str,
    variables: dict[str, Any],
) -> None:
    """The intent's values go with the decision, so the issue says each clause in numbers (the alignment
    score comes from the decision itself)."""
    line.ledger.apply(record.id, Event.BLOCKED, reason=f"a change: {decision.summary}")
    fail_commit(line, repo, sha, reports.GOVERNANCE_BLOCKED.format(summary=decision.summary), record)
    body = reports.render("blocked", path=record.path, decision=decision.to_json(), variables=variables)
    notify(line, repo, line.ledger.get(record.id), body, kind="blocked")


@dataclass
class _StageClock:
    """Records each factory stage's start as it happens, and its end, at the time it ended, once the
    outcome is known."""

    line: Line
    intent_id: int
    once: str
    started: dict[str, datetime] = field(default_factory=dict)
    ended: dict[str, datetime] = field(default_factory=dict)

    def __call__(self, stage: str) -> None:
        now = datetime.now(UTC)
        for previous in self.started:
            self.ended.setdefault(previous, now)
        self.started[stage] = now
        self.line.ledger.record(self.intent_id, Stage(stage), Outcome.STARTED, once=self.once)

    def finish(
        self, stage: str, outcome: Outcome, message: str, detail: dict[str, Any] | None = None
    ) -> None:
        if stage not in self.started:
            return
        end = self.ended.get(stage, datetime.now(UTC))
        elapsed = int((end - self.started[stage]).total_seconds() * 1000)
        self.line.ledger.record(
            self.intent_id,
            Stage(stage),
            outcome,
            message,
            detail=detail,
            duration_ms=elapsed,
            at=end,
            once=self.once,
        )


def _build(
    line: Line,
    record: IntentRecord,
    intent: Intent,
    blueprint: str | None,
    adopted: AdoptedStages,
    builtin_because: dict[str, str],
    *,
    once: str,
) -> BuildOutcome:
    """`builtin_because`: stages `line/stages.yaml` routes to a service that runs built in, and why."""
    line.ledger.apply(record.id, Event.BUILD_STARTED)
    clock = _StageClock(line, record.id, once)
    outcome = build_service(
        intent,
        intent_path=record.path,
        blueprint=blueprint or "",
        workdir=line.workdir / "build" / record.repo,
        sandbox_for=line.sandbox_for,
        provider=line.provider,
        budget_key=_budget_key(record),
        config=replace(line.factory, stages=adopted),
        progress=clock,
    )
    spec = outcome.spec
    spec_ok = spec.reached_gate
    served = {stage.value: who for stage, who in adopted.served.by.items()}
    clock.finish(
        "spec",
        Outcome.SUCCEEDED if spec_ok else Outcome.FAILED,
        f"score {spec.verification.score}/100 (gate {spec.gate}){_served_note(served)}",
        {"score": spec.verification.score, "served_by": served, "builtin_because": builtin_because},
    )
    if outcome.generated is not None:
        clock.finish("code", Outcome.SUCCEEDED, f"{len(outcome.files)} files")
    if outcome.tests is not None:
        tests = outcome.tests
        clock.finish(
            "tests",
            Outcome.SUCCEEDED if tests.ok else Outcome.FAILED,
            f"{tests.passed} passed, {tests.failed} failed ({tests.verdict.value})",
            {"tests": tests.to_json()},
        )
    line.ledger.apply(record.id, Event.BUILT, report=outcome.report())
    return outcome


def _served_note(served: dict[str, str]) -> str:
    """`; spec-builder by spec-builder-v2`: the stages a service (not the built-in) served, for timelines."""
    routed = [f"{stage} by {who}" for stage, who in served.items() if who != BUILTIN]
    return f"; {', '.join(routed)}" if routed else ""


def _report_below_gate(
    line: Line, repo: RepoClient, record: IntentRecord, outcome: BuildOutcome, sha: str
) -> None:
    spec = outcome.spec
    waiting = reports.SPEC_BELOW.format(score=spec.verification.score, gate=spec.gate)
    line.ledger.apply(record.id, Event.SPEC_BELOW_GATE, reason=waiting)
    repo.set_status(
        sha,
        StatusContext.SPEC.of_file(record.path),
        StatusState.FAILURE,
        reports.short(waiting),
        line.intent_url(record.id),
    )
    notify(
        line,
        repo,
        line.ledger.get(record.id),
        reports.render("below_gate", path=record.path, spec=spec.to_json()),
        kind="below_gate",
    )


def _open_pull_request(
    line: Line,
    repo: RepoClient,
    record: IntentRecord,
    intent: Intent,
    decision: Decision,
    outcome: BuildOutcome,
    *,
    before: IntentRecord,
    once: str,
) -> None:
    """`before`: the record as the job found it, restored when the build turns out to be merged already."""
    default = repo.default_branch()
    current = repo.read_file(record.path, default)
    if current is None or content_hash(current) != record.content_hash:
        line.ledger.record(
            record.id,
            Stage.PR,
            Outcome.SKIPPED,
            "a newer version of the intent supersedes this one",
            once=once,
        )
        return
    branch = SERVICE_BRANCH.format(service=intent.service_name)
    with line.ledger.stage(record.id, Stage.PR, once=once) as run:
        pushed = line.workspace(record.repo).publish(
            branch=branch,
            base=default,
            folder=SERVICES_DIR.format(service=intent.service_name),
            files=outcome.files,
            message=reports.BUILD_COMMIT.format(
                service=intent.service_name, path=record.path, content=record.content_hash[:12]
            ),
        )
        if pushed is None:
            merged = repo.find_merged_pull(branch, repo.branch_head(branch) or "")
            if merged is not None:  # a rebuild that changed nothing: the merge's own jobs carry on
                run.message = f"#{merged.number} is merged already; the build changed nothing"
                line.ledger.restore(record.id, before)
                return
        pull = _upsert_pull(repo, branch, default, intent, record, decision, outcome, line)
        head = pushed or pull.head_sha
        run.message = f"#{pull.number} at {head[:12]}"
    line.ledger.apply(record.id, Event.PR_UPDATED, pr_number=pull.number, pr_url=pull.html_url, head_sha=head)
    close_opened_issue(line, repo, record, reports.ISSUE_FIXED.format(path=record.path, number=pull.number))
    tests = outcome.tests
    line.checks.record_tested(
        record.id,
        head_sha=head,
        ok=tests is not None and tests.ok,
        by=TestedBy.BUILD,
        pushed_by=line.bot_login,
        summary=reports.TESTS_PASSED.format(passed=tests.passed) if tests is not None and tests.ok else "",
    )
    _set_build_statuses(line, repo, record, head, outcome)
    from bot.handlers.reviews import evaluate_pull  # the sign-off rules decide the governance status

    evaluate_pull(line, repo, pull.number)


def _upsert_pull(
    repo: RepoClient,
    branch: str,
    base: str,
    intent: Intent,
    record: IntentRecord,
    decision: Decision,
    outcome: BuildOutcome,
    line: Line,
) -> PullRequest:
    body = reports.render(
        "pr_body",
        service=intent.service_name,
        path=record.path,
        purpose=intent.purpose,
        decision=decision.to_json(),
        build=outcome.to_json(),
        cost=reports.intent_cost(line.provider.offline, line.usage, _budget_key(record)),
        waiting_for="",
        intent_url=line.intent_url(record.id),
    )
    existing = repo.find_open_pull(branch)
    if existing is not None:
        repo.update_pull(existing.number, body=body)
        return existing
    try:
        return repo.create_pull(
            head=branch, base=base, title=reports.PR_TITLE.format(service=intent.service_name), body=body
        )
    except Invalid:
        # Another worker opened it between our look-up and our request: use that one.
        found = repo.find_open_pull(branch)
        if found is None:
            raise
        return found


def _set_build_statuses(
    line: Line, repo: RepoClient, record: IntentRecord, head: str, outcome: BuildOutcome
) -> None:
    url = line.intent_url(record.id)
    spec = outcome.spec
    repo.set_status(
        head,
        StatusContext.SPEC,
        StatusState.SUCCESS,
        reports.SPEC_PASSED.format(score=spec.verification.score, gate=spec.gate),
        url,
    )
    tests = outcome.tests
    if tests is not None and tests.ok:
        repo.set_status(
            head,
            StatusContext.TESTS,
            StatusState.SUCCESS,
            reports.TESTS_PASSED.format(passed=tests.passed),
            url,
        )
    elif tests is not None:
        description = reports.TESTS_FAILED.format(
            verdict=tests.verdict.value, failed=tests.failed, errors=tests.errors, skipped=tests.skipped
        )
        repo.set_status(head, StatusContext.TESTS, StatusState.FAILURE, reports.short(description), url)


@routes.job(JobKind.UNDEPLOY, on_dead=report_dead, payload=IntentPayload)
def undeploy_intent(job: Job, context: BotContext) -> None:
    """An intent deleted from the default branch: stop its service and take it out of the registry."""
    line = require_line(context)
    payload = IntentPayload.of(job)
    record = line.ledger.find(payload.repo, payload.path)
    if record is None:
        return
    result = line.deployer.undeploy(record.service_name)
    line.ledger.record(record.id, Stage.UNDEPLOYED, Outcome.SUCCEEDED, result.message)
    line.ledger.apply(record.id, Event.DELETED, service_url="")
    close_opened_issue(line, line.repo(payload.repo), record, reports.ISSUE_REMOVED.format(path=record.path))
    if record.pr_number:
        line.repo(payload.repo).comment(
            record.pr_number, reports.UNDEPLOYED.format(service=record.service_name)
        )
