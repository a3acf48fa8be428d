"""Fixtures of the factory tests: example intents, their specs, and the blueprint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.registry_api import create_registry_app
from pipeline.codegen.generator import generate_service
from pipeline.intents import parse_intent_mapping
from pipeline.llm.anthropic import AnthropicProvider, RetryPolicy
from pipeline.llm.usage import Budgets, UsageLedger
from pipeline.registry import RegistryStore
from pipeline.spec.builder import build_spec
from pipeline.spec.model import Spec
from pipeline.state import Database, default_sqlite_url
from pipeline.wheelhouse import cached_venv, prepare_wheelhouse, service_requirements, venv_python
from tests.fixtures.anthropic_api import FakeMessagesAPI
from tests.fixtures.generated import FREE_TEXT as FREE_TEXT  # re-exported for the factory tests
from tests.fixtures.generated import STRUCTURED, load_example
from tests.fixtures.servers import serve_app

REGISTRY_TOKEN = "factory-test-registry-token"


@pytest.fixture(scope="session")
def blueprint(examples_dir: Path) -> str:
    return (examples_dir / "BLUEPRINT.md").read_text(encoding="utf-8")


@pytest.fixture
def hello_spec(examples_dir: Path, blueprint: str) -> Spec:
    return build_spec(load_example(examples_dir, "hello-world"), blueprint=blueprint)


@pytest.fixture(scope="session")
def generated(
    tmp_path_factory: pytest.TempPathFactory, examples_dir: Path, blueprint: str
) -> dict[str, Path]:
    """The services of the structured examples, generated once per session (read-only for tests)."""
    root = tmp_path_factory.mktemp("services")
    services = {}
    for name in STRUCTURED:
        spec = build_spec(load_example(examples_dir, name), blueprint=blueprint)
        services[name] = generate_service(spec, root / name, intent_path=f"intents/{name}.yaml").directory
    return services


@pytest.fixture
def registry_server(tmp_path: Path) -> Iterator[tuple[str, RegistryStore]]:
    """The real registry HTTP API, served by uvicorn on a free loopback port."""
    database = Database(default_sqlite_url(tmp_path / "registry"))
    database.create_all()
    store = RegistryStore(database, ttl=timedelta(seconds=30))
    app = create_registry_app(store, SecretStr(REGISTRY_TOKEN))
    with serve_app(app) as url:
        yield url, store
    database.dispose()


@pytest.fixture(scope="session")
def sandbox_python() -> Path:
    """The generated services' test venv, built offline from the wheelhouse (prepared by setup)."""
    data = Path(__file__).resolve().parents[2] / ".data"
    prepare_wheelhouse(data / "wheelhouse")  # a no-op once ./scripts/setup.sh has run
    requirements = service_requirements(with_tests=True)
    return venv_python(cached_venv(requirements, wheelhouse=data / "wheelhouse", cache_dir=data / "venvs"))


CLAUDE_KEY = "sk-ant-api03-factory-test-key-000000000000000000000000"
CLAUDE_MODEL = "claude-haiku-4-5-20251001"


@pytest.fixture
def claude(anthropic_api: FakeMessagesAPI, tmp_path: Path) -> Iterator[AnthropicProvider]:
    """The real Anthropic provider (real SDK) talking to the local Messages API stand-in."""
    database = Database(default_sqlite_url(tmp_path / "llm"))
    database.create_all()
    yield AnthropicProvider(
        api_key=SecretStr(CLAUDE_KEY),
        model=CLAUDE_MODEL,
        ledger=UsageLedger(database, Budgets(per_intent_usd=10.0, monthly_usd=100.0)),
        base_url=anthropic_api.base_url,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_retry_after=1.0),
    )
    database.dispose()


MOTD = {"method": "GET", "path": "/motd", "summary": "Return the message of the day."}
"""An endpoint no hint explains: only a model can write it."""


@pytest.fixture
def custom_spec(examples_dir: Path, blueprint: str) -> Spec:
    """hello-world with an endpoint whose logic a model writes (as a SPEC built with Claude says)."""
    data = {**load_example(examples_dir, "hello-world").model_dump(mode="json", exclude_unset=True)}
    data["endpoints"] = [*data["endpoints"], MOTD]
    spec = build_spec(parse_intent_mapping(data, source="intents/hello-world.yaml"), blueprint=blueprint)
    return spec.model_copy(update={"logic": "model"})
