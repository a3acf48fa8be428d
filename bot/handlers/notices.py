"""Telling people on the forge: a comment on the intent's pull request or issue, a failing status on the
default branch's commit."""

from __future__ import annotations

from collections.abc import Sequence

from bot import reports
from bot.line import Line
from bot.vcs.client import RepoClient
from bot.vcs.models import LineNote, StatusContext, StatusState
from pipeline.ledger import IntentRecord


def notify(line: Line, repo: RepoClient, record: IntentRecord, body: str, *, kind: str = "") -> None:
    """Tell the people concerned: on the intent's PR if it has one, else on its own issue (opened once).
    With a `kind`, the report of that kind there is edited in place rather than added to."""
    number = record.pr_number or record.issue_number
    if number and kind:
        repo.report(number, kind=kind, body=body, author=line.bot_login)
    elif number:
        repo.comment(number, body)
    else:
        number = repo.create_issue(reports.ISSUE_TITLE.format(path=record.path), body)
        line.ledger.update(record.id, issue_number=number)


def fail_commit(
    line: Line,
    repo: RepoClient,
    sha: str,
    description: str,
    record: IntentRecord,
    *,
    notes: Sequence[LineNote] = (),
) -> None:
    """A failing status on the default branch's commit for this intent file: one context per file, so
    every failing file of a push shows on the commit; `notes` go on the file's lines (as an App)."""
    context = StatusContext.GOVERNANCE.of_file(record.path)
    repo.set_status(sha, context, StatusState.FAILURE, reports.short(description), line.intent_url(record.id))
    if notes:
        repo.annotate(sha, context, notes)


def close_opened_issue(line: Line, repo: RepoClient, record: IntentRecord, why: str) -> None:
    """Close the issue the line opened about this intent (it opens one only while the intent has no pull
    request), saying why; a later problem opens a new one."""
    if record.issue_number is None:
        return
    repo.close_issue(record.issue_number, comment=why)
    line.ledger.update(record.id, issue_number=None)
