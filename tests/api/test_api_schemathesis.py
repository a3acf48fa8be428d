"""Schemathesis against the bot's own OpenAPI (`app.openapi()` of the app `build_bot` serves), called in
process through its ASGI transport, as a writer with a real forge token: no answer is a server error,
every status code is documented, every body and header matches what is documented, and a request without
the token is refused. Bounded so the default suite stays fast: a fixed number of examples per operation,
derandomized (the same cases on every run), no example database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.api import ApiRig

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    ignored_auth,
]
BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def operations(api: ApiRig) -> Iterator[APIOperation]:
    schema = schemathesis.openapi.from_dict(api.bot.app.openapi())
    schema.app = api.bot.app  # requests go to the app in this process, never over the network
    for result in schema.get_all_operations():
        yield result.ok()


def fuzz(api: ApiRig, operation: APIOperation, mode: GenerationMode) -> str | None:
    """Schemathesis's report for the operation, or None when every case passed every check."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @BOUNDED
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=api.auth("alice"), checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing in this operation can be made invalid (negative mode on a bare route)
    except BaseExceptionGroup as failures:  # schemathesis's FailureGroup: every distinct failure found
        return f"{operation.label}: {failures}"
    except AssertionError as failure:
        return f"{operation.label}: {failure}"
    return None


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_bot_api_answers_as_its_openapi_says(api: ApiRig, mode: GenerationMode) -> None:
    fuzzed = list(operations(api))
    assert {"/intents/submit", "/webhook"} <= {operation.path for operation in fuzzed}
    failures = [report for operation in fuzzed if (report := fuzz(api, operation, mode))]
    assert not failures, "\n\n".join(failures)
