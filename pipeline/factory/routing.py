"""The registry of stage implementations: which implementation answers each stage, from configuration.

Configuration maps a stage name to `builtin` or to the URL of a stage service, e.g.

    {"spec-verifier": "http://127.0.0.1:8205", "code-generator": "builtin"}

Stages not named run built in. Tokens never sit in that mapping (it may be committed, as `line/stages.yaml`
will be): they are given beside it, one for all stage services or one per stage. Plain `http://` is for
loopback only; anywhere else the token and the intent would cross the network in clear, so `https://`.
Routing a stage to a service the line built is a change of this mapping, nothing else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr

from pipeline.factory.builtin import builtin_stages
from pipeline.factory.clients import (
    DEFAULT_TIMEOUT_S,
    HttpAlignmentScorer,
    HttpCodeGenerator,
    HttpSpecBuilder,
    HttpSpecOptimizer,
    HttpSpecVerifier,
    StageEndpoint,
)
from pipeline.factory.contracts import Stage
from pipeline.factory.interfaces import AlignmentScorer, FactoryStages
from pipeline.llm import LLMProvider

BUILTIN = "builtin"
LOOPBACK_NAMES = frozenset({"localhost"})
UNKNOWN_STAGE = "unknown stage {name!r} (one of: {known})"
BAD_TARGET = "{stage}: {target!r} is neither 'builtin' nor an http:// or https:// URL"
NO_HOST = "{stage}: {target!r} names no host"
CREDENTIALS_IN_URL = (
    "{stage}: the URL to {host} carries credentials; give the token beside the mapping, never in it"
)
QUERY_IN_URL = "{stage}: {target!r} has a query or fragment; give the service's base URL"
CLEAR_TEXT = (
    "{stage}: {target!r} is plain http to a host that is not loopback: the token and the intent would cross "
    "the network in clear; use https://"
)
NO_TOKEN = "{stage}: routed to {target} but no token is given for it (INTENTOPS_STAGE_TOKEN)"


class StageConfigError(ValueError):
    """The stage routing configuration cannot be used; the message names the stage and the problem."""


@dataclass(frozen=True)
class StageRegistry:
    """Stage -> implementation. Stages without an endpoint run built in (the default: all of them)."""

    endpoints: Mapping[Stage, StageEndpoint] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls,
        mapping: Mapping[str, str],
        *,
        token: SecretStr | None = None,
        tokens: Mapping[str, SecretStr] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> StageRegistry:
        """Parse `{stage name: "builtin" | URL}`; a URL's token is `tokens[stage]`, else `token`."""
        per_stage = {_stage(name): secret for name, secret in (tokens or {}).items()}
        endpoints: dict[Stage, StageEndpoint] = {}
        for name, target in mapping.items():
            stage = _stage(name)
            url = _target(stage, target.strip())
            if url is None:
                continue
            secret = per_stage.get(stage, token)
            if secret is None or not secret.get_secret_value().strip():
                raise StageConfigError(NO_TOKEN.format(stage=stage.value, target=url))
            endpoints[stage] = StageEndpoint(url=url, token=secret, timeout_s=timeout_s)
        return cls(endpoints)

    def describe(self) -> dict[str, str]:
        """Each stage and what answers it ('builtin' or the service's URL): for logs and status pages."""
        return {stage.value: self._target(stage) for stage in Stage}

    def _target(self, stage: Stage) -> str:
        endpoint = self.endpoints.get(stage)
        return endpoint.url if endpoint is not None else BUILTIN

    def scorer(
        self, provider: LLMProvider | None = None, *, budget_key: str | None = None
    ) -> AlignmentScorer:
        """The alignment-scorer stage alone (governance asks it before any build)."""
        return self.resolve(provider, budget_key=budget_key).scorer

    def resolve(self, provider: LLMProvider | None = None, *, budget_key: str | None = None) -> FactoryStages:
        """The stages for one build: routed ones over HTTP, the others built in and bound to `provider`
        (None: offline) and the intent's `budget_key`."""
        built_in = builtin_stages(provider, budget_key=budget_key)
        scorer = self.endpoints.get(Stage.ALIGNMENT_SCORER)
        builder = self.endpoints.get(Stage.SPEC_BUILDER)
        verifier = self.endpoints.get(Stage.SPEC_VERIFIER)
        optimizer = self.endpoints.get(Stage.SPEC_OPTIMIZER)
        generator = self.endpoints.get(Stage.CODE_GENERATOR)
        return FactoryStages(
            scorer=HttpAlignmentScorer(scorer) if scorer else built_in.scorer,
            builder=HttpSpecBuilder(builder) if builder else built_in.builder,
            verifier=HttpSpecVerifier(verifier) if verifier else built_in.verifier,
            optimizer=HttpSpecOptimizer(optimizer) if optimizer else built_in.optimizer,
            generator=HttpCodeGenerator(generator) if generator else built_in.generator,
        )


def _stage(name: str) -> Stage:
    try:
        return Stage(name.strip())
    except ValueError:
        known = ", ".join(s.value for s in Stage)
        raise StageConfigError(UNKNOWN_STAGE.format(name=name, known=known)) from None


def _target(stage: Stage, target: str) -> str | None:
    """None for 'builtin'; the base URL of a stage service otherwise."""
    if target == BUILTIN:
        return None
    parts = urlsplit(target)
    if parts.scheme not in {"http", "https"}:
        raise StageConfigError(BAD_TARGET.format(stage=stage.value, target=target))
    if not parts.hostname:
        raise StageConfigError(NO_HOST.format(stage=stage.value, target=target))
    if parts.username is not None or parts.password is not None:
        raise StageConfigError(CREDENTIALS_IN_URL.format(stage=stage.value, host=parts.hostname))
    if parts.query or parts.fragment:
        raise StageConfigError(QUERY_IN_URL.format(stage=stage.value, target=target))
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise StageConfigError(CLEAR_TEXT.format(stage=stage.value, target=target))
    return target.rstrip("/")


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
