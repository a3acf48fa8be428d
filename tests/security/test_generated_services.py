"""Attacks on the services the line generates, through services generated from intents and started as a
deployer starts them (`python -m app` on 127.0.0.1).

- Open redirect and header injection: a link whose stored target is `javascript:`, `data:`, a scheme-
  relative `//host`, a relative path, or holds a line break; on create and on change. A row that reached
  the storage some other way (an older database) is still never sent as a Location.
- Shadowing the service's own routes: a root-level `GET /{code}` redirect may not answer for /health or
  /metrics, and a hint on those paths is refused.
- Code injection through the intent's text: quotes, triple quotes, backslashes, line breaks and template
  braces in a summary, a fixed answer, seed rows and a condition's value end up as data in the generated
  code, never as code (the payload would create a file if it ran), and the service answers them verbatim.
- Values storage or JSON cannot hold, sent to break a handler: ids past 2^63, integers past 64 bits, lone
  surrogates; each is a 404 or 422, never a server error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.codegen.generator import generate_service
from pipeline.intents import InvalidIntent, parse_intent_mapping
from pipeline.sandbox import ProcessSandbox
from pipeline.spec.builder import build_spec
from pipeline.spec.optimizer import optimize
from tests.fixtures.generated import running

pytestmark = [pytest.mark.slow]

SHORTENER = {
    "service_name": "short",
    "purpose": "Shorten links for the team and count their visits.",
    "blueprint_context": "Shared internal tools.",
    "storage": "sqlite",
    "resources": [
        {
            "name": "link",
            "fields": {"code": "string", "target": "url", "visits": "integer"},
            "required": ["code", "target"],
        }
    ],
    "endpoints": [
        {
            "method": "GET",
            "path": "/{code}",
            "redirect": {"resource": "link", "lookup": "code", "to": "target", "increment": {"visits": 1}},
        }
    ],
}
UNSAFE_TARGETS = (
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/phish",
    "/relative/path",
    "https://example.org/\r\nSet-Cookie: session=stolen",
    "https://example.org/\nLocation: https://evil.example",
)


def generated(data: dict[str, object], root: Path) -> Path:
    report = optimize(build_spec(parse_intent_mapping(data, source=f"intents/{data['service_name']}.yaml")))
    assert report.reached_gate, report.verification.to_json()
    return generate_service(report.spec, root / str(data["service_name"])).directory


@pytest.fixture
def shortener(tmp_path: Path, service_python: Path) -> Iterator[tuple[str, Path]]:
    directory = generated(SHORTENER, tmp_path)
    data = tmp_path / "data"
    with running(directory, service_python, data) as url:
        yield url, data


def test_no_unsafe_target_is_stored_or_sent_as_a_location(shortener: tuple[str, Path]) -> None:
    url, data = shortener
    for target in UNSAFE_TARGETS:
        response = httpx.post(f"{url}/links", json={"code": "x", "target": target})
        assert response.status_code == 422, (target, response.text)
    assert httpx.get(f"{url}/links/%ED%A0%80").status_code == 404  # a surrogate's bytes in the path
    assert httpx.get(f"{url}/links").json() == []
    good = httpx.post(f"{url}/links", json={"code": "ok", "target": "https://example.org/ok"}).json()
    for target in UNSAFE_TARGETS:
        assert httpx.patch(f"{url}/links/{good['id']}", json={"target": target}).status_code == 422
    # A row that reached the database another way is refused at the redirect, never sent on.
    with sqlite3.connect(data / "short.db") as db:
        db.execute("INSERT INTO link (code, target) VALUES ('old', 'javascript:alert(1)')")
    refused = httpx.get(f"{url}/old", follow_redirects=False)
    assert refused.status_code == 409 and "location" not in refused.headers
    followed = httpx.get(f"{url}/ok", follow_redirects=False)
    assert followed.status_code == 302 and followed.headers["location"] == "https://example.org/ok"


def test_a_root_redirect_never_answers_for_the_services_own_routes(shortener: tuple[str, Path]) -> None:
    url, _ = shortener
    httpx.post(f"{url}/links", json={"code": "health", "target": "https://evil.example/"})
    httpx.post(f"{url}/links", json={"code": "metrics", "target": "https://evil.example/"})
    health = httpx.get(f"{url}/health", follow_redirects=False)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = httpx.get(f"{url}/metrics", follow_redirects=False)
    assert metrics.status_code == 200 and "http_requests_total" in metrics.text
    with pytest.raises(InvalidIntent, match="served by the application itself"):
        parse_intent_mapping(
            {**SHORTENER, "endpoints": [{"method": "GET", "path": "/health", "respond": {"status": "fine"}}]},
            source="intents/short.yaml",
        )


PAYLOAD = "open('{marker}', 'w').write('pwned')"
TRICKS = (
    '"""; {payload}; """',
    "'); {payload}  #",
    '\\"); {payload}  #',
    "{{{{ {payload} }}}} {{% {payload} %}}",
    "line one\n{payload}\nline three",
)


def test_the_intents_text_is_data_in_the_generated_code_never_code(
    tmp_path: Path, service_python: Path
) -> None:
    marker = tmp_path / "pwned"
    texts = [trick.format(payload=PAYLOAD.format(marker=marker)) for trick in TRICKS]
    data = {
        "service_name": "quoted",
        "purpose": "Repeat what it was told, exactly.",
        "blueprint_context": "Shared internal tools.",
        "resources": [
            {
                "name": "saying",
                "fields": {"text": "string"},
                "required": ["text"],
                "seed": [{"text": t} for t in texts],
            }
        ],
        "endpoints": [
            {"method": "GET", "path": "/all", "summary": texts[0] + texts[4], "respond": {"said": texts}},
            {
                "method": "GET",
                "path": "/tricky",
                "summary": texts[1],
                "query": {"resource": "saying", "where": {"text": {"contains": texts[3]}}},
            },
        ],
    }
    directory = generated(data, tmp_path)
    result = ProcessSandbox(service_python).run_tests(directory)
    assert result.ok, result.output
    with running(directory, service_python, tmp_path / "data") as url:
        assert httpx.get(f"{url}/all").json() == {"said": texts}
        assert [row["text"] for row in httpx.get(f"{url}/sayings").json()] == texts
        assert [row["text"] for row in httpx.get(f"{url}/tricky").json()] == [texts[3]]
    assert not marker.exists()


def test_values_storage_cannot_hold_are_refused_not_a_server_error(shortener: tuple[str, Path]) -> None:
    url, _ = shortener
    assert httpx.get(f"{url}/links/{2**64}").status_code == 404
    assert httpx.get(f"{url}/links/٣").status_code == 404  # a digit, but not an ASCII one
    assert httpx.delete(f"{url}/links/{'9' * 40}").status_code == 404
    too_big = httpx.post(f"{url}/links", json={"code": "b", "target": "https://e.example", "visits": 2**70})
    assert too_big.status_code == 422
    surrogate = httpx.post(
        f"{url}/links",
        content=b'{"code": "\\ud800", "target": "https://e.example"}',
        headers={"content-type": "application/json"},
    )
    assert surrogate.status_code == 422
    assert httpx.get(f"{url}/links/%ED%A0%80").status_code == 404  # a surrogate's bytes in the path
    assert httpx.get(f"{url}/links").json() == []
