"""`intentops action`: the line for one GitHub Actions run, to completion in this process.

It reads the runner's variables (`bot.actions.runner`), runs the webhook's handlers for the run's event
(`bot.actions.drive`), keeps the state in DATABASE_URL or, without one, in the branch `intentops/state`
(`bot.actions.statebranch`), and says what happened in its exit code, the job summary and step outputs
(`bot.actions.summary`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import SecretStr, ValidationError
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from bot.actions.drive import ActionDriver, RunReport
from bot.actions.runner import ACTIONS_BOT, RunnerError, RunnerEvent, data_dir_for, read_runner_event
from bot.actions.statebranch import StateBranch, StateBranchError, state_branch_for
from bot.actions.summary import ExitCode, append, output_lines, outputs, render_summary
from bot.cli.output import err, out
from bot.cli.output import fail as fail_marked
from bot.settings import Settings
from bot.vcs.errors import ForgeError

DEFAULT_TIMEOUT_S = 50 * 60.0
OPTIONAL_SECRETS = ("DATABASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
STATE_FILE = "state.db"
BAD_SETTINGS = "invalid settings: {problems}"
NO_TOKEN = "GITHUB_TOKEN is not set: give the step `GITHUB_TOKEN: ${{ github.token }}` (or the bot's token)"
NOT_SAVED = "the line's state was not kept: {reason}"
CANNOT_START = "the line cannot start: {reason}"
FORGE_FAILED = "the forge failed outside a job ({reason}); what was queued is kept for the next run"
FORGE_SUMMARY = "## IntentOps: {event}, not finished\n"
INCOMPLETE_CODE = {"exit-code": str(int(ExitCode.INCOMPLETE))}
INCOMPLETE_OUTPUTS = {"held-deploys": "0", "pull-requests": "", **INCOMPLETE_CODE}


def fail(message: str, *, code: int) -> NoReturn:
    fail_marked(escape(message), code=code)


def _overrides(event: RunnerEvent, env: Mapping[str, str]) -> dict[str, Any]:
    """The settings a run implies, unless the workflow set them itself."""
    implied: dict[str, Any] = {
        "GITHUB_BASE_URL": event.api_url,
        "INTENTOPS_REPO": event.repository,
        # No webhook is served in a run; the app still wants a secret to refuse unsigned ones with.
        "INTENTOPS_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "INTENTOPS_WORKER_THREADS": 0,
    }
    data = data_dir_for(env)
    if data is not None:
        implied["INTENTOPS_DATA_DIR"] = str(data)
    for name in OPTIONAL_SECRETS:  # a workflow passes a secret it does not have as ""
        implied[name] = None
    return {name: value for name, value in implied.items() if not env.get(name)}


def _settings(event: RunnerEvent, env: Mapping[str, str]) -> Settings:
    try:
        settings = Settings(**_overrides(event, env))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(BAD_SETTINGS.format(problems=problems), code=ExitCode.USAGE)
    if settings.github_token is None and settings.github_app_id is None:
        fail(NO_TOKEN, code=ExitCode.USAGE)
    token = settings.github_token
    if settings.bot_login is None and settings.github_app_id is None and token is not None:
        try:  # (an App's login is its own, found by the line)
            settings = settings.model_copy(update={"bot_login": _bot_login(token, settings.github_base_url)})
        except ForgeError as exc:
            fail(CANNOT_START.format(reason=exc.short), code=ExitCode.INCOMPLETE)
    return settings


def _bot_login(token: SecretStr, api_base_url: str | None) -> str:
    """The token's account; the workflow's own token may not ask (GET /user), and acts as github-actions."""
    from bot.vcs.github import login_of, token_connection

    return login_of(token_connection(token.get_secret_value(), api_base_url)) or ACTIONS_BOT


def _state_branch(settings: Settings, event: RunnerEvent) -> StateBranch | None:
    """Stateless mode's branch, or None when DATABASE_URL keeps the state."""
    if settings.database_url:
        return None
    if settings.github_token is None:
        fail(NO_TOKEN, code=ExitCode.USAGE)
    return state_branch_for(
        api_base_url=settings.github_base_url or event.api_url,
        repository=event.repository,
        token=settings.github_token.get_secret_value(),
        scratch=settings.data_dir.absolute() / "state-git",
    )


def _run(settings: Settings, event: RunnerEvent, *, hold_deploys: bool, timeout_s: float) -> RunReport:
    """The event worked off; ForgeError when the forge fails outside a job (jobs retry on their own)."""
    from bot.app import BotConfigurationError
    from bot.line import LineConfigurationError
    from bot.server import build_bot

    try:
        bot = build_bot(settings, worker_threads=0)
    except (BotConfigurationError, LineConfigurationError) as exc:
        fail(CANNOT_START.format(reason=exc), code=ExitCode.USAGE)
    except (SQLAlchemyError, ForgeError) as exc:
        fail(CANNOT_START.format(reason=f"{type(exc).__name__}: {exc}"), code=ExitCode.INCOMPLETE)
    try:
        driver = ActionDriver(bot.app.state.context, bot.app.state.routes, bot.line)
        return driver.run(event, hold_deploys=hold_deploys, timeout_s=timeout_s)
    finally:
        bot.database.dispose()


def _env_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value) if value else None


def _restore(branch: StateBranch | None, database_file: Path) -> str | None:
    try:
        return branch.restore(database_file) if branch is not None else None
    except StateBranchError as exc:
        fail(str(exc), code=ExitCode.INCOMPLETE)


def _save(branch: StateBranch | None, database_file: Path, *, kept: str | None, event: RunnerEvent) -> str:
    """Keep the state on its branch (stateless mode); why it could not be kept ("" when it was)."""
    if branch is None:
        return ""
    try:
        branch.save(database_file, expected=kept, what=f"{event.workflow_event} {event.delivery_id}")
    except StateBranchError as exc:
        return NOT_SAVED.format(reason=exc)
    return ""


def _finish(env: Mapping[str, str], *, summary: str, values: dict[str, str], problems: list[str]) -> None:
    """Say it all (stdout, job summary, step outputs, stderr) and exit with `values["exit-code"]`."""
    summary += "".join(f"\n{problem}\n" for problem in problems)
    for problem in problems:
        err.print(escape(problem))
    out.print(escape(summary))
    append(_env_path(env, "GITHUB_STEP_SUMMARY"), summary)
    append(_env_path(env, "GITHUB_OUTPUT"), output_lines(values))
    raise typer.Exit(int(values["exit-code"]))


def action(
    hold_deploys: Annotated[
        bool,
        typer.Option(
            "--hold-deploys",
            help="Leave the deploys of merged pull requests for a later job (one with a GitHub Environment)",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to work before giving up (jobs stay queued)")
    ] = DEFAULT_TIMEOUT_S,
) -> None:
    """Run the line for this GitHub Actions run's event ($GITHUB_EVENT_NAME, $GITHUB_EVENT_PATH) to the end.

    Exit codes: 0 done (or waiting for people), 1 an intent was refused or failed, 2 the environment or
    settings cannot be used, 3 the line could not finish (a job gave up, a timeout, state not kept).
    """
    env = os.environ
    try:
        event = read_runner_event(env)
    except RunnerError as exc:
        fail(str(exc), code=ExitCode.USAGE)
    settings = _settings(event, env)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    branch = _state_branch(settings, event)
    database_file = settings.data_dir.absolute() / STATE_FILE
    kept = _restore(branch, database_file)
    try:
        report = _run(settings, event, hold_deploys=hold_deploys, timeout_s=timeout)
    except ForgeError as exc:
        # Whatever was queued before the forge failed is kept, for the next run to carry on with.
        why = _save(branch, database_file, kept=kept, event=event)
        problems = [FORGE_FAILED.format(reason=exc.short), *([why] if why else [])]
        summary = FORGE_SUMMARY.format(event=event.workflow_event)
        _finish(env, summary=summary, values=INCOMPLETE_OUTPUTS, problems=problems)
    why = _save(branch, database_file, kept=kept, event=event)
    values = outputs(report) if not why else {**outputs(report), **INCOMPLETE_CODE}
    _finish(env, summary=render_summary(report), values=values, problems=[why] if why else [])


def register(app: typer.Typer) -> None:
    app.command()(action)
