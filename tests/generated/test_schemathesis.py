"""Schemathesis against the OpenAPI of every generated example service, started as a deployer starts it
(`python -m app` on 127.0.0.1): no server error, and every status, body, content type and header as
documented; invalid input is refused. Bounded like tests/api/test_api_schemathesis.py: a fixed number of
examples per operation, derandomized (the same cases on every run), no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.generated import STRUCTURED, running

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated")]


def operations(url: str) -> Iterator[APIOperation]:
    schema = schemathesis.openapi.from_dict(httpx.get(f"{url}/openapi.json", timeout=10).json())
    schema.config.update(base_url=url)
    for result in schema.get_all_operations():
        yield result.ok()


def fuzz(url: str, operation: APIOperation, mode: GenerationMode) -> str | None:
    """Schemathesis's report for the operation, or None when every case passed every check."""
    checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else CHECKS

    @given(case=operation.as_strategy(generation_mode=mode))
    @BOUNDED
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=url, checks=checks, allow_redirects=False)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing in this operation can be made invalid (negative mode on a bare route)
    except BaseExceptionGroup as failures:  # schemathesis's FailureGroup: every distinct failure found
        return f"{operation.label}: {failures}"
    except AssertionError as failure:
        return f"{operation.label}: {failure}"
    return None


@pytest.mark.parametrize("name", STRUCTURED)
def test_the_generated_service_answers_as_its_openapi_says(
    name: str, example_services: dict[str, Path], service_python: Path, tmp_path: Path
) -> None:
    with running(example_services[name], service_python, tmp_path / "data") as url:
        fuzzed = list(operations(url))
        assert len(fuzzed) >= 5, [op.label for op in fuzzed]
        failures = [
            report
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for operation in fuzzed
            if (report := fuzz(url, operation, mode))
        ]
    assert not failures, "\n\n".join(failures)
