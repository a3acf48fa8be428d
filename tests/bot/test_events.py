"""Raw payloads become frozen models: checked against every real GitHub payload example."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.events import (
    IssueCommentEvent,
    IssuesEvent,
    MalformedEvent,
    PingEvent,
    PullRequestEvent,
    PullRequestReviewEvent,
    PushEvent,
    ReviewState,
    is_modelled,
    parse_event,
)
from tests.bot.conftest import example_id, load_example, payload_examples


@pytest.mark.parametrize("example", payload_examples(), ids=example_id)
def test_every_real_example_parses_or_is_left_alone(example: tuple[str, Path]) -> None:
    event, path = example
    parsed = parse_event(event, json.loads(path.read_text(encoding="utf-8")))
    if is_modelled(event):
        assert parsed is not None
        assert parsed.name == event
    else:
        assert parsed is None


def test_push_example_is_a_tag_deletion() -> None:
    event = parse_event("push", load_example("push"))
    assert isinstance(event, PushEvent)
    assert event.repo == "Codertocat/Hello-World"
    assert event.ref == "refs/tags/simple-tag"
    assert event.branch is None
    assert not event.to_default_branch
    assert event.deleted
    assert event.pusher == "Codertocat"
    assert event.sender == "Codertocat"
    assert event.commits == ()


def test_push_to_default_branch_lists_files_per_commit(push_with_commits: dict[str, Any]) -> None:
    event = parse_event("push", push_with_commits)
    assert isinstance(event, PushEvent)
    assert event.branch == "master" and event.to_default_branch
    assert [c.sha for c in event.commits] == ["1" * 40, "a" * 40]
    assert event.commits[0].added == ("intents/a.yaml", "intents/b.yaml")
    assert event.commits[1].removed == ("intents/b.yaml",)
    present, removed = event.changed_paths()
    assert present == {"intents/a.yaml", "README.md"}
    assert removed == {"intents/b.yaml"}


def test_models_are_frozen(push_with_commits: dict[str, Any]) -> None:
    event = parse_event("push", push_with_commits)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.ref = "refs/heads/other"  # type: ignore[misc,union-attr]


@pytest.mark.parametrize(
    ("name", "merged"), [("closed", False), ("opened", False), ("reopened", False), ("synchronize", False)]
)
def test_pull_request_examples(name: str, merged: bool) -> None:
    event = parse_event("pull_request", load_example("pull_request", f"{name}.payload.json"))
    assert isinstance(event, PullRequestEvent)
    assert event.action == name
    assert event.number == 2
    assert event.head_ref == "changes"
    assert event.head_sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert event.base_ref == "master"
    assert event.merged is merged
    assert event.author == "Codertocat"
    assert event.installation_id is not None


def test_merged_pull_request_keeps_merge_commit() -> None:
    payload = load_example("pull_request", "closed.payload.json")
    payload["pull_request"]["merged"] = True
    event = parse_event("pull_request", payload)
    assert isinstance(event, PullRequestEvent)
    assert event.merged
    assert event.merge_commit_sha == "c4295bd74fb0f4fda03689c3df3f2803b658fd85"


@pytest.mark.parametrize(
    ("name", "state"), [("submitted", ReviewState.COMMENTED), ("dismissed", ReviewState.DISMISSED)]
)
def test_review_examples(name: str, state: ReviewState) -> None:
    event = parse_event("pull_request_review", load_example("pull_request_review", f"{name}.payload.json"))
    assert isinstance(event, PullRequestReviewEvent)
    assert event.action == name
    assert event.state is state
    assert event.reviewer == "Codertocat"
    assert event.author == "Codertocat"
    assert event.number == 2
    assert event.commit_id == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert event.head_sha == event.commit_id


@pytest.mark.parametrize("spelling", ["approved", "APPROVED"])
def test_review_state_accepts_both_spellings(spelling: str) -> None:
    payload = load_example("pull_request_review", "submitted.payload.json")
    payload["review"]["state"] = spelling
    event = parse_event("pull_request_review", payload)
    assert isinstance(event, PullRequestReviewEvent)
    assert event.state is ReviewState.APPROVED


def test_issue_comment_example_is_on_an_issue() -> None:
    event = parse_event("issue_comment", load_example("issue_comment", "created.payload.json"))
    assert isinstance(event, IssueCommentEvent)
    assert event.body == "You are totally right! I'll get this fixed right away."
    assert event.commenter == "Codertocat"
    assert event.author_association == "OWNER"
    assert event.number == 1
    assert not event.is_pull_request


def test_issue_comment_on_a_pull_request() -> None:
    payload = load_example("issue_comment", "created.payload.json")
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    event = parse_event("issue_comment", payload)
    assert isinstance(event, IssueCommentEvent) and event.is_pull_request


def test_issues_opened_example() -> None:
    event = parse_event("issues", load_example("issues", "opened.payload.json"))
    assert isinstance(event, IssuesEvent)
    assert event.action == "opened"
    assert event.title == "Spelling error in the README file"
    assert "commit" in event.body
    assert event.labels == ("bug",)


def test_ping_example() -> None:
    event = parse_event("ping", load_example("ping"))
    assert isinstance(event, PingEvent)
    assert event.hook_id == 109948940
    assert event.zen


@pytest.mark.parametrize(
    ("event", "file", "path", "where"),
    [
        ("pull_request", "opened.payload.json", ("pull_request", "head", "sha"), "pull_request.head.sha"),
        ("pull_request_review", "submitted.payload.json", ("review", "user"), "review.user.login"),
        ("issue_comment", "created.payload.json", ("repository",), "repository.full_name"),
        ("push", "payload.json", ("ref",), "ref"),
    ],
)
def test_missing_field_is_named(event: str, file: str, path: tuple[str, ...], where: str) -> None:
    payload = copy.deepcopy(load_example(event, file))
    node = payload
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(MalformedEvent) as refused:
        parse_event(event, payload)
    assert str(refused.value) == f"{event} payload: {where}: missing"


def test_wrong_types_are_refused(push_with_commits: dict[str, Any]) -> None:
    push_with_commits["commits"][1]["added"] = [1]
    with pytest.raises(MalformedEvent, match=r"commits\.1\.added: expected a list of paths"):
        parse_event("push", push_with_commits)
    payload = load_example("pull_request", "opened.payload.json")
    payload["pull_request"]["number"] = True
    with pytest.raises(MalformedEvent, match=r"pull_request\.number: expected int"):
        parse_event("pull_request", payload)


def test_unknown_review_state_is_refused() -> None:
    payload = load_example("pull_request_review", "submitted.payload.json")
    payload["review"]["state"] = "maybe"
    with pytest.raises(MalformedEvent, match="unknown review state 'maybe'"):
        parse_event("pull_request_review", payload)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a payload (objects and arrays)."""
    found = [prefix] if prefix else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        found.extend(_paths(child, (*prefix, key)))
    return found


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
MODELLED_EXAMPLES = [(e, p) for e, p in payload_examples() if is_modelled(e)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_damaged_payload_parses_or_is_refused_by_name(data: st.DataObject) -> None:
    event, path = data.draw(st.sampled_from(MODELLED_EXAMPLES), label="example")
    payload = json.loads(path.read_text(encoding="utf-8"))
    if event == "push":
        payload["commits"] = [{"id": "1" * 40, "added": ["a"], "removed": [], "modified": []}]
    target = data.draw(st.sampled_from(_paths(payload)), label="path")
    node = payload
    for key in target[:-1]:
        node = node[key]
    node[target[-1]] = data.draw(JSON_VALUES, label="value")
    try:
        parsed = parse_event(event, payload)
    except MalformedEvent as refused:
        assert refused.path and str(refused).startswith(f"{event} payload: ")
    else:
        assert parsed is not None and parsed.name == event
