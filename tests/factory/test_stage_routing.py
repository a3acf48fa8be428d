"""Routing the factory's stages: built in by default, a stage service by configuration alone, and a clear
refusal of a configuration that cannot be used."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from bot.settings import Settings
from bot.stages import create_stage_app, stage_registry
from pipeline.assembly import BuildVerdict, FactoryConfig, build_service
from pipeline.factory.builtin import BuiltinCodeGenerator, BuiltinSpecBuilder
from pipeline.factory.clients import HttpSpecBuilder, StageFailure, StageUnavailable
from pipeline.factory.contracts import Stage
from pipeline.factory.routing import BUILTIN, StageConfigError, StageRegistry
from pipeline.governance.alignment import LexicalScorer
from pipeline.intents import load_intent_file
from pipeline.sandbox.runner import ProcessSandbox, Sandbox
from tests.fixtures.servers import serve_app
from tests.fixtures.stage_services import STAGE_TOKEN, routed_to, stage_service

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
TOKEN = SecretStr(STAGE_TOKEN)


class Recorded:
    """The real stage app, noting each path it is asked for."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def test_by_default_every_stage_is_built_in() -> None:
    registry = FactoryConfig().stages
    assert registry.describe() == {stage.value: BUILTIN for stage in Stage}
    stages = registry.resolve()
    assert isinstance(stages.builder, BuiltinSpecBuilder) and isinstance(
        stages.generator, BuiltinCodeGenerator
    )
    assert isinstance(stages.scorer, LexicalScorer)


@pytest.mark.slow
def test_routing_every_stage_to_a_service_is_a_configuration_change(
    tmp_path: Path, examples_dir: Path, blueprint: str, sandbox_python: Path
) -> None:
    def sandbox_for(_directory: Path) -> Sandbox:
        return ProcessSandbox(sandbox_python)

    intent = load_intent_file(examples_dir / "intents" / "hello-world.yaml")
    arguments: dict[str, Any] = {
        "intent_path": "intents/hello-world.yaml",
        "blueprint": blueprint,
        "sandbox_for": sandbox_for,
    }
    built_in = build_service(intent, workdir=tmp_path / "builtin", **arguments)
    served = Recorded(create_stage_app(token=TOKEN))
    with serve_app(served) as url:
        config = FactoryConfig(stages=routed_to(url))
        stages: list[str] = []
        routed = build_service(
            intent, workdir=tmp_path / "routed", config=config, progress=stages.append, **arguments
        )
    assert served.paths == ["/build", "/optimize", "/verify", "/generate"]
    assert stages == ["spec", "code", "tests"]
    assert routed.verdict is BuildVerdict.READY, routed.to_json()
    assert routed.files == built_in.files
    assert routed.spec.to_json() == built_in.spec.to_json()


def test_a_routed_stage_that_refuses_stops_the_build_with_the_stage_named(
    tmp_path: Path, examples_dir: Path
) -> None:
    intent = load_intent_file(examples_dir / "intents" / "spec-analyzer.yaml")
    with stage_service(Stage.SPEC_BUILDER, token="another-token-entirely") as url:
        config = FactoryConfig(stages=routed_to(url, Stage.SPEC_BUILDER))
        with pytest.raises(StageUnavailable) as raised:
            build_service(
                intent,
                intent_path="intents/spec-analyzer.yaml",
                blueprint="",
                workdir=tmp_path,
                sandbox_for=lambda _: pytest.fail("nothing is built when the SPEC cannot be"),
                config=config,
            )
    assert raised.value.stage is Stage.SPEC_BUILDER and raised.value.failure is StageFailure.REFUSED
    assert "401" in str(raised.value) and url in str(raised.value)


def test_only_the_named_stages_are_routed_and_per_stage_tokens_win() -> None:
    registry = StageRegistry.from_config(
        {"spec-builder": "https://stages.example.org/builder/", "code-generator": "builtin"},
        token=SecretStr("shared"),
        tokens={"spec-builder": SecretStr("its-own")},
    )
    described = registry.describe()
    assert described.pop("spec-builder") == "https://stages.example.org/builder"
    assert set(described.values()) == {BUILTIN}
    builder = registry.resolve().builder
    assert isinstance(builder, HttpSpecBuilder) and builder.endpoint.token.get_secret_value() == "its-own"


@pytest.mark.parametrize("target", ["http://127.0.0.1:8205", "http://localhost:8205", "http://[::1]:8205"])
def test_plain_http_is_accepted_on_loopback(target: str) -> None:
    assert (
        StageRegistry.from_config({"spec-verifier": target}, token=TOKEN).describe()["spec-verifier"]
        == target
    )


@pytest.mark.parametrize(
    ("mapping", "token", "message"),
    [
        (
            {"spec-writer": "builtin"},
            TOKEN,
            "unknown stage 'spec-writer' (one of: alignment-scorer, spec-builder",
        ),
        ({"spec-verifier": "ftp://127.0.0.1/"}, TOKEN, "is neither 'builtin' nor an http:// or https:// URL"),
        ({"spec-verifier": "http://"}, TOKEN, "names no host"),
        ({"spec-verifier": "http://10.0.0.5:8205"}, TOKEN, "would cross the network in clear; use https://"),
        ({"spec-verifier": "https://me:pw@stages.example.org"}, TOKEN, "carries credentials"),
        ({"spec-verifier": "https://stages.example.org/?stage=x"}, TOKEN, "has a query or fragment"),
        ({"spec-verifier": "http://127.0.0.1:8205"}, None, "no token is given for it"),
        ({"spec-verifier": "http://127.0.0.1:8205"}, SecretStr("  "), "no token is given for it"),
    ],
)
def test_a_configuration_that_cannot_be_used_is_refused_with_the_stage_named(
    mapping: dict[str, str], token: SecretStr | None, message: str
) -> None:
    with pytest.raises(StageConfigError, match=r"^spec-verifier|^unknown stage") as raised:
        StageRegistry.from_config(mapping, token=token)
    assert message in str(raised.value)
    assert "pw" not in str(raised.value)


def test_the_bot_reads_its_routing_from_the_environment() -> None:
    settings = Settings(
        INTENTOPS_STAGES=" spec-verifier=http://127.0.0.1:8205 , code-generator=builtin,",
        INTENTOPS_STAGE_TOKEN="line-token",
        INTENTOPS_STAGE_TIMEOUT="7.5",
    )
    registry = stage_registry(settings)
    assert registry.describe()["spec-verifier"] == "http://127.0.0.1:8205"
    endpoint = registry.endpoints[Stage.SPEC_VERIFIER]
    assert endpoint.timeout_s == 7.5 and endpoint.token.get_secret_value() == "line-token"


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ("spec-verifier", "'spec-verifier' is not STAGE=TARGET"),
        (
            "spec-verifier=http://10.0.0.5:8205",
            "INTENTOPS_STAGES: spec-verifier: 'http://10.0.0.5:8205' is plain http",
        ),
        ("spec-verifier=http://127.0.0.1:8205", "INTENTOPS_STAGES: spec-verifier: routed to"),
    ],
)
def test_unusable_routing_stops_the_settings_from_loading(stages: str, message: str) -> None:
    with pytest.raises(ValidationError, match="INTENTOPS_STAGES") as raised:
        Settings(INTENTOPS_STAGES=stages)
    assert message in str(raised.value)
