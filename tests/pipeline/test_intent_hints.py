"""The structured hints of an intent (queries, aggregates, actions, redirects, fixed answers, relations and
seed rows): what each accepts, and every mistake reported at its file, line and column in plain words."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pipeline.intents import InvalidIntent, OnDelete, Op, intent_json_schema, load_intent, load_intent_file
from pipeline.intents.hints import Comparison
from tests.conftest import EXAMPLES

SOURCE = "intents/todo.yaml"
HEAD = """\
service_name: todo
purpose: Keep the team's tasks and show which are overdue.
resources:
  - name: task
    fields: {title: string, due: datetime, done: boolean, hits: integer, link: url}
    required: [title]
"""
"""Six lines: the endpoints of each case start on line 7."""


def problems(text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(InvalidIntent) as caught:
        load_intent(HEAD + text, source=SOURCE)
    return [(p.line, p.column, p.field, p.message) for p in caught.value.problems]


def only(text: str) -> tuple[int, int, str, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# -- what each kind accepts ---------------------------------------------------------------------------------


def test_a_query_with_every_part() -> None:
    intent = load_intent(
        HEAD
        + """\
endpoints:
  - method: GET
    path: /tasks/overdue
    query:
      resource: task
      where: {due: {lt: now-1d}, done: {ne: true}, title: {contains: "x"}, hits: {gte: 1, lt: 10}}
      order: [-due, title]
      limit: 20
""",
        source=SOURCE,
    )
    query = intent.endpoints[0].query
    assert query is not None and intent.endpoints[0].kind == "query"
    assert query.order == ["-due", "title"] and query.limit == 20
    assert isinstance(query.where["hits"], Comparison)
    assert query.where["hits"].pairs() == [(Op.LT, 10), (Op.GTE, 1)]


def test_short_forms_a_single_order_and_a_single_parent() -> None:
    intent = load_intent(
        """\
service_name: notebooks
purpose: Notes in notebooks.
resources:
  - {name: notebook, fields: {title: string}}
  - {name: note, fields: {title: string}, belongs_to: notebook}
endpoints:
  - {method: GET, path: /latest, query: {resource: note, order: -id, single: true}}
""",
        source="intents/notebooks.yaml",
    )
    note = intent.resources[1]
    assert note.belongs_to[0].resource == "notebook" and note.belongs_to[0].on_delete is OnDelete.RESTRICT
    assert note.all_fields()["notebook_id"].value == "integer" and "notebook_id" in note.all_required()
    assert intent.endpoints[0].query is not None and intent.endpoints[0].query.order == ["-id"]


@pytest.mark.parametrize("path", sorted((EXAMPLES / "intents").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_validates_against_the_published_json_schema(path: Path) -> None:
    from pipeline.intents.yamlsafe import compose  # noqa: F401  (the loader's own YAML reading)

    intent = load_intent_file(path)
    document = json.loads(json.dumps(intent.model_dump(mode="json", exclude_unset=True)))
    jsonschema.validate(document, intent_json_schema())


# -- mistakes, each at its place ----------------------------------------------------------------------------


def test_an_unknown_operator_lists_the_known_ones() -> None:
    line, column, field, message = only(
        "endpoints:\n  - method: GET\n    path: /x\n    query: {resource: task, where: {due: {before: 1}}}\n"
    )
    assert (line, field) == (10, "endpoints.0.query.where.due.before")
    assert message == "unknown field 'before' (allowed: contains, eq, gt, gte, lt, lte, ne)"


def test_a_condition_that_cannot_hold_is_named_with_its_field() -> None:
    found = problems(
        """\
endpoints:
  - method: GET
    path: /tasks/weird/{who}
    query:
      resource: task
      where:
        done: {lt: true}
        hits: {contains: "1"}
        due: {gt: yesterday}
        nope: 1
        title: "{someone}"
"""
    )
    messages = {field.split(".")[-1]: message for _, _, field, message in found}
    assert messages["done"].startswith("lt needs an ordered field (number, date-time or text)")
    assert messages["hits"] == "contains compares text; this field is a integer"
    assert messages["due"] == "expected an ISO 8601 date-time, got 'yesterday' (or 'now', 'now-7d', 'now+2h')"
    assert messages["nope"].startswith("'nope' is not a field of task (fields: title, due")
    assert messages["title"] == "'{someone}' names no parameter of the path"
    assert messages["where"].startswith("no condition uses the path parameter {who}")
    assert {line for line, *_ in found} >= {13, 14, 15, 16, 17}


def test_id_is_never_a_query_condition() -> None:
    *_, message = only("endpoints:\n  - {method: GET, path: /one, query: {resource: task, where: {id: 3}}}\n")
    assert message == "a query cannot filter on id (to read one row by id, use the generated GET /tasks/{id})"


def test_the_kind_decides_the_method_and_the_path() -> None:
    assert only("endpoints:\n  - {method: POST, path: /x, query: {resource: task}}\n")[3] == (
        "a query endpoint answers GET (it changes nothing), not POST"
    )
    assert only(
        "endpoints:\n  - {method: GET, path: '/t/{id}/x', action: {resource: task, set: {done: true}}}\n"
    )[3] == ("an action changes a row: POST, PUT or PATCH, not GET")
    assert only("endpoints:\n  - {method: GET, path: /r, redirect: {resource: task, to: link}}\n")[3] == (
        "a redirect finds its row by one path parameter (like /links/{code}); this path has 0"
    )
    assert only("endpoints:\n  - {method: GET, path: '/a/{b}', respond: [1]}\n")[3] == (
        "a fixed answer takes no path parameters"
    )


def test_one_kind_per_endpoint_and_a_real_answer() -> None:
    line, _, field, message = only(
        "endpoints:\n  - {method: GET, path: /x, query: {resource: task}, respond: 1}\n"
    )
    assert (line, field) == (8, "endpoints.0.respond")
    assert message == "give one of query, aggregate, action, redirect, respond, not query and respond"
    assert only("endpoints:\n  - {method: GET, path: /x, respond: null}\n")[3] == (
        "give the JSON to answer with (null is no answer)"
    )
    assert only("endpoints:\n  - {method: GET, path: /x, respond: [.nan]}\n")[3] == (
        "JSON has no NaN or infinity; give a finite number"
    )


def test_actions_and_redirects_change_what_they_can() -> None:
    found = problems(
        """\
endpoints:
  - method: POST
    path: /tasks/{id}/touch
    action: {resource: task, set: {title: null, due: soon, done: 1}, increment: {link: 1, hits: 0.5}}
  - method: GET
    path: /go/{id}
    redirect: {resource: task, to: title, status: 302}
"""
    )
    messages = {field: message for _, _, field, message in found}
    assert messages["endpoints.0.action.set.title"] == "'title' is required; it cannot be set to null"
    assert messages["endpoints.0.action.set.due"] == "expected an ISO 8601 date-time, got 'soon' (or 'now')"
    assert messages["endpoints.0.action.set.done"] == "expected boolean, got 1"
    assert (
        messages["endpoints.0.action.increment.link"] == "only a number can be incremented; 'link' is a url"
    )
    assert (
        messages["endpoints.0.action.increment.hits"]
        == "'hits' is an integer; increment it by a whole number"
    )
    assert messages["endpoints.1.redirect.to"].startswith("'title' must be of type url")
    assert only(
        "endpoints:\n  - {method: GET, path: '/go/{c}', redirect: {resource: task, to: link, status: 200}}\n"
    )[2] == ("endpoints.0.redirect.status")


def test_a_route_of_its_own() -> None:
    assert only(
        "endpoints:\n  - {method: GET, path: '/tasks/{x}', query: {resource: task, where: {title: '{x}'}}}\n"
    )[3] == ("GET /tasks/{x} is the generated GET /tasks/{id} of task; give it another path")
    assert only("endpoints:\n  - {method: GET, path: /health, respond: ok}\n")[3] == (
        "/health is served by the application itself"
    )
    twice = "endpoints:\n  - {method: GET, path: /a, respond: 1}\n  - {method: GET, path: /a, respond: 2}\n"
    line, _, field, message = only(twice)
    assert (line, field) == (9, "endpoints.1.path")
    assert message == "GET /a is endpoints[0]'s route too; give it another path"


def test_relations_and_seed_rows() -> None:
    found = problems(
        """\
  - name: list
    fields: {name: string}
    belongs_to: [board]
    seed:
      - {name: groceries, colour: red}
      - {name: x}
"""
    )
    messages = {field: message for _, _, field, message in found}
    assert messages["resources.1.belongs_to.0.resource"] == "'board' is not declared under resources"
    assert messages["resources.1.seed.0.colour"].startswith("'colour' is not a field of list")
    assert messages["resources.1.seed.1"] == "misses required field(s): board_id"
    line, _, field, message = only("  - {name: card, fields: {text: string}, belongs_to: [card]}\n")
    assert (line, field, message) == (
        7,
        "resources.1.belongs_to.0.resource",
        "a resource cannot belong to itself",
    )
    taken = only("  - {name: card, fields: {task_id: integer}, belongs_to: task}\n")[3]
    assert taken == "the relation adds the field 'task_id'; remove it from fields"


def test_relations_in_a_circle_and_parents_beyond_their_seed() -> None:
    text = """\
  - {name: a, fields: {x: string}, belongs_to: b}
  - {name: b, fields: {x: string}, belongs_to: a}
"""
    line, _, field, message = only(text)
    assert (line, field) == (7, "resources.1.belongs_to")
    assert message == "the relations go round in a circle: a -> b -> a"
    seeded = """\
  - {name: board, fields: {x: string}, seed: [{x: one}]}
  - {name: pin, fields: {x: string}, belongs_to: board, seed: [{x: a, board_id: 2}]}
"""
    line, _, field, message = only(seeded)
    assert (line, field) == (8, "resources.2.seed.0.board_id")
    assert message == "board 2 is not among its 1 seed row(s)"


def test_a_relation_field_is_compared_with_a_path_parameter_only() -> None:
    text = """\
  - {name: note, fields: {x: string}, belongs_to: task}
endpoints:
  - {method: GET, path: /three, query: {resource: note, where: {task_id: 3}}}
"""
    assert (
        only(text)[3]
        == "task_id holds a task's id: compare it with a path parameter ('{param}'), not a literal"
    )


def test_a_url_field_takes_only_absolute_http_urls_in_seed_rows() -> None:
    text = "    seed: [{title: a, link: 'javascript:alert(1)'}]\n"
    line, column, field, message = only(text)
    assert (line, field) == (7, "resources.0.seed.0.link")
    assert message == "expected an absolute http(s) URL, got 'javascript:alert(1)'"


def test_an_action_leaves_the_field_it_finds_its_row_by() -> None:
    action = "{resource: task, lookup: hits, increment: {hits: 1}}"
    text = f"endpoints:\n  - {{method: POST, path: '/t/{{h}}', action: {action}}}\n"
    line, _, field, message = only(text)
    assert (line, field) == (8, "endpoints.0.action.increment.hits")
    assert message == "changes 'hits', the field the path finds its row by (lookup)"
