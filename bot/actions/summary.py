"""What a run says when it ends: its exit code, its job summary (`$GITHUB_STEP_SUMMARY`) and its step
outputs (`$GITHUB_OUTPUT`), all from one `RunReport`."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

from bot.actions.drive import RunReport
from pipeline.ledger import IntentRecord, IntentState


class ExitCode(IntEnum):
    DONE = 0
    """Everything the event led to was done, or waits for people (a review, a merge)."""
    REFUSED = 1
    """An intent was refused or failed: invalid, blocked, failing its tests, or its deploy failed."""
    USAGE = 2
    """The runner's environment or the settings cannot be used (the message names the variable)."""
    INCOMPLETE = 3
    """A job gave up after its retries, the run timed out, or its state could not be kept."""


REFUSED_STATES = frozenset(
    {
        IntentState.INVALID,
        IntentState.BLOCKED,
        IntentState.NEEDS_HUMAN,
        IntentState.DEPLOY_FAILED,
        IntentState.FAILED,
    }
)

TITLE = "## IntentOps: {event}, {delivery}"
HOW_TAKEN = {
    "queued": "handled",
    "duplicate": "already handled in this workflow run",
    "ignored": "nothing in the line handles it",
    "own-event": "caused by the line itself",
    "dispatched": "every intent on the default branch read again",
}
"""How the event was taken (`bot.webhooks.deliveries.DeliveryOutcome`, or a dispatch), in words."""
NOTHING = "Nothing for the line in this event."
TABLE_HEAD = "| Intent | State | Pull request | Why |\n| --- | --- | --- | --- |"
ROW = "| `{path}` | {state} | {pull} | {why} |"
HELD = "**Deploys held for the deploy job:** {count} (`{keys}`)."
DEAD = "**Gave up:** `{kind}` `{key}`: {error}"
TIMED_OUT = "**Timed out**: jobs were still queued; the next run goes on with them."
OUTCOME = {
    ExitCode.DONE: "Done.",
    ExitCode.REFUSED: "An intent was refused or failed: see its pull request, commit status or issue.",
    ExitCode.INCOMPLETE: "The line could not finish: see the jobs that gave up.",
}


def exit_code(report: RunReport) -> ExitCode:
    if report.dead or report.timed_out:
        return ExitCode.INCOMPLETE
    if any(record.state in REFUSED_STATES for record in report.intents):
        return ExitCode.REFUSED
    return ExitCode.DONE


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())[:300]


def _row(record: IntentRecord) -> str:
    pull = f"#{record.pr_number}" if record.pr_number else ""
    pull = f"[{pull}]({record.pr_url})" if pull and record.pr_url else pull
    deployed = record.state is IntentState.DEPLOYED and record.service_url
    why = record.service_url if deployed else record.waiting_for
    return ROW.format(path=_cell(record.path), state=record.state.value, pull=pull, why=_cell(why or ""))


def render_summary(report: RunReport) -> str:
    """The job summary in Markdown."""
    taken = HOW_TAKEN.get(report.delivery, report.delivery)
    lines = [TITLE.format(event=report.event, delivery=taken), ""]
    if report.intents:
        lines += [TABLE_HEAD, *(_row(record) for record in report.intents), ""]
    elif not report.dead:
        lines += [NOTHING, ""]
    if report.held:
        lines += [HELD.format(count=len(report.held), keys="`, `".join(report.held)), ""]
    lines += [DEAD.format(kind=d.kind, key=d.key, error=_cell(d.error)) for d in report.dead]
    if report.timed_out:
        lines.append(TIMED_OUT)
    lines += ["", OUTCOME[exit_code(report)], ""]
    return "\n".join(lines)


def outputs(report: RunReport) -> dict[str, str]:
    """The step's outputs: `held-deploys` (how many deploys wait for a deploy job), `pull-requests`."""
    pulls = sorted({r.pr_number for r in report.intents if r.pr_number is not None})
    return {
        "held-deploys": str(len(report.held)),
        "pull-requests": ",".join(str(n) for n in pulls),
        "exit-code": str(int(exit_code(report))),
    }


def append(path: Path | None, text: str) -> None:
    """Append to a file the runner reads after the step (summary, outputs); nothing outside a runner."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def output_lines(values: dict[str, str]) -> str:
    return "".join(f"{name}={value}\n" for name, value in values.items())
