"""What a runner gives a step, read and checked: a missing variable, an event the line does not handle, or
an event file that is not a JSON object is refused with a message naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.actions.runner import RunnerError, read_runner_event


def _env(tmp_path: Path, body: bytes = b'{"action": "opened"}', **changes: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_bytes(body)
    env = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/intents",
        "GITHUB_RUN_ID": "77",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_API_URL": "https://forge.test/api/v3/",
    }
    env.update(changes)
    return {name: value for name, value in env.items() if value}


def test_a_runner_event_is_read_with_its_webhook_name_and_delivery(tmp_path: Path) -> None:
    event = read_runner_event(_env(tmp_path))
    assert (event.webhook_event, event.delivery_id, event.api_url) == (
        "pull_request",
        "actions-77-2",
        "https://forge.test/api/v3",
    )
    assert event.payload == {"action": "opened"} and event.server_url == "https://github.com"


@pytest.mark.parametrize(
    ("changes", "body", "says"),
    [
        ({"GITHUB_EVENT_NAME": ""}, b"{}", "GITHUB_EVENT_NAME is not set"),
        ({"GITHUB_EVENT_NAME": "schedule"}, b"{}", "the schedule event is not one the line handles"),
        ({"GITHUB_REPOSITORY": "acme"}, b"{}", "GITHUB_REPOSITORY 'acme' is not owner/name"),
        ({}, b"[1, 2]", "is not a JSON object of the pull_request event: it is a JSON list"),
        ({}, b"{not json", "is not a JSON object of the pull_request event"),
        ({"GITHUB_EVENT_PATH": "/nonexistent/event.json"}, b"{}", "No such file or directory"),
    ],
)
def test_what_a_runner_cannot_have_given_is_refused_by_name(
    tmp_path: Path, changes: dict[str, str], body: bytes, says: str
) -> None:
    with pytest.raises(RunnerError) as refused:
        read_runner_event(_env(tmp_path, body, **changes))
    assert says in str(refused.value)


def test_the_event_body_is_kept_as_the_runner_wrote_it(tmp_path: Path) -> None:
    body = json.dumps({"ref": "refs/heads/main", "é": 1}, ensure_ascii=False).encode()
    assert read_runner_event(_env(tmp_path, body, GITHUB_EVENT_NAME="push")).body == body


def _action(env: dict[str, str]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from bot.cli.main import build_app

    cleared = dict.fromkeys(("GITHUB_TOKEN", "GITHUB_APP_ID", "DATABASE_URL", "INTENTOPS_DATA_DIR"), None)
    result = CliRunner().invoke(build_app(("bot.cli.action_cmd",)), ["action"], env={**cleared, **env})
    return result.exit_code, result.output


def test_outside_a_runner_the_action_says_what_is_missing_and_exits_2(tmp_path: Path) -> None:
    code, said = _action({"GITHUB_EVENT_NAME": ""})
    assert code == 2 and "GITHUB_EVENT_NAME is not set" in said
    env = _env(tmp_path, GITHUB_EVENT_NAME="push", RUNNER_TEMP=str(tmp_path), DATABASE_URL="")
    code, said = _action(env)  # an unset secret reaches the step as ""
    assert code == 2 and "GITHUB_TOKEN is not set" in said
