"""Static routes before parametric ones, always: `/tasks/overdue` is never read as `/tasks/{id}`, `/health`
never as a root `/{code}`, whatever order the intent lists its endpoints in."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from pipeline.codegen.plans import registration_order, route_order
from pipeline.intents import HttpMethod
from pipeline.spec.model import Endpoint

PAIRS = [
    ("/tasks/overdue", "/tasks/{id}"),  # a query beside the generated read
    ("/links/popular", "/links/{id}"),
    ("/hello", "/{code}"),  # a root-level redirect beside anything static
    ("/notebooks/{notebook}/pinned", "/notebooks/{id}/{x}"),
    ("/a/b/{x}", "/a/{y}/c"),  # both match /a/b/c: the one static longer wins
]
WORDS = ["tasks", "overdue", "open", "r", "{p}", "{q}"]


def endpoint(path: str) -> Endpoint:
    return Endpoint(id="EP-001", method=HttpMethod.GET, path=path, summary="s", response="r", errors=[])


def served_by(paths: list[str], url: str) -> str:
    """Which of `paths` answers `url` when the routes are registered as the generated app registers them."""

    def answer(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.scope["route"].path)

    routes = [Route(ep.path, answer) for ep in registration_order([endpoint(p) for p in paths])]
    response = TestClient(Starlette(routes=routes)).get(url)
    return response.text if response.status_code == 200 else ""


@pytest.mark.parametrize(("static", "parametric"), PAIRS)
def test_each_pair_the_hints_allow_in_either_order(static: str, parametric: str) -> None:
    url = static.replace("{notebook}", "7").replace("{x}", "c")
    for paths in ([static, parametric], [parametric, static]):
        assert served_by(paths, url) == static


@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3), min_size=2, max_size=6))
@settings(max_examples=200, derandomize=True, database=None, deadline=None)
def test_a_static_path_answers_its_own_url_among_any_others(segments: list[list[str]]) -> None:
    paths = list(dict.fromkeys(_numbered("/" + "/".join(s)) for s in segments))
    for static in (p for p in paths if "{" not in p):
        assert served_by(paths, static) == static


def test_the_order_is_static_first_at_the_first_segment_that_differs() -> None:
    paths = ["/a/{x}/c", "/a/b/{y}", "/a/b/c", "/{z}/b/c"]
    ordered = [ep.path for ep in registration_order([endpoint(p) for p in reversed(paths)])]
    assert ordered == ["/a/b/c", "/a/b/{y}", "/a/{x}/c", "/{z}/b/c"]
    assert all(route_order(a) <= route_order(b) for a, b in itertools.pairwise(ordered))


def _numbered(path: str) -> str:
    """Starlette needs distinct parameter names within a path."""
    count = itertools.count()
    return "/".join(f"{{p{next(count)}}}" if part.startswith("{") else part for part in path.split("/"))
