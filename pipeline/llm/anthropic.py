"""The Claude provider: the anthropic SDK with prompt caching, tool use, timeouts, retries and budgets.

Answers are streamed: a long generation (code) never waits minutes for a single HTTP read, and the read
timeout bounds the silence between events rather than the whole answer. Retries are ours, not the SDK's
(it is built with `max_retries=0`): the SDK would wait as long as any `retry-after` asks, and we want a
bounded, logged policy that never repeats a request the API refused.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import anthropic
from anthropic.types import Message
from pydantic import SecretStr

from pipeline.llm.base import LLMError, LLMRequest, LLMResponse, Usage
from pipeline.llm.pricing import ModelPrice, cost_bound, model_alias, price_for, usage_cost
from pipeline.llm.usage import UsageLedger

log = logging.getLogger(__name__)

PROVIDER_NAME = "anthropic"
REDACTED = "[redacted]"

# Models that reject a forced `tool_choice` (thinking is always on for them): we offer the tool with
# `auto` and refuse the answer if the tool was not called.
NO_FORCED_TOOL_CHOICE = frozenset({"claude-sonnet-5-5"})

API_ERROR = "Claude API error {status} ({kind}): {message}"
STREAM_ERROR = "Claude API error during the answer ({kind}): {message}"
UNREACHABLE = "Claude API unreachable after {attempts} attempt(s): {reason}"
UNREADABLE = "Claude API answer could not be read: {reason}"
RETRY_AFTER_TOO_LONG = "Claude API asks to wait {wait:.0f} s before retrying; the limit is {limit:.0f} s"
TOOL_NOT_CALLED = "the model did not call the tool {tool!r} (stop reason: {stop_reason})"
RETRYING = "Claude API %s on attempt %d/%d; retrying in %.2f s"
CALL_DONE = "Claude %s for %s: %d in, %d cache write, %d cache read, %d out tokens; $%.5f"


@dataclass(frozen=True)
class Timeouts:
    """Seconds. `read` is the longest silence allowed: before the first event, and between two events."""

    connect: float = 10.0
    read: float = 120.0
    write: float = 30.0
    pool: float = 10.0

    def for_sdk(self) -> anthropic.Timeout:
        return anthropic.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on 429, 5xx (529 overloaded included), timeouts and connection errors; never on other 4xx."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    """A `retry-after` longer than this is not waited for: the call fails now and the job retries later."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    def backoff(self, attempt: int) -> float:
        # Full jitter keeps workers that failed together from retrying together.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait the API asks for (`retry-after-ms`, or `retry-after` in seconds), if any."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            continue
    return None


# Error types that mean "try again later" (429, 500, 529), whether sent as a status or inside a stream.
TRANSIENT_ERROR_TYPES = frozenset({"rate_limit_error", "api_error", "overloaded_error"})


def _is_retryable(exc: anthropic.APIError) -> bool:
    if isinstance(exc, anthropic.APIConnectionError):  # timeouts included
        return True
    if not isinstance(exc, anthropic.APIStatusError):
        return False
    if exc.status_code < 400:  # an `error` event in a stream that had started with 200
        return exc.type in TRANSIENT_ERROR_TYPES
    if exc.response.headers.get("x-should-retry") == "false":
        return False
    return exc.status_code == 429 or exc.status_code >= 500


def system_blocks(system: tuple[str, ...]) -> list[dict[str, Any]]:
    """The stable prefix as text blocks; the last carries the cache breakpoint, caching tools + system."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": part} for part in system]
    if blocks:
        blocks[-1]["cache_control"] = {"type": "ephemeral"}
    return blocks


class AnthropicProvider:
    """An `LLMProvider` backed by the Messages API."""

    name = PROVIDER_NAME
    offline = False

    def __init__(
        self,
        *,
        api_key: SecretStr,
        model: str,
        ledger: UsageLedger,
        base_url: str | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.price: ModelPrice = price_for(model)
        self._key = api_key
        self._ledger = ledger
        self._retry = retry or RetryPolicy()
        self._client = anthropic.Anthropic(
            api_key=api_key.get_secret_value(),
            base_url=base_url,
            timeout=(timeouts or Timeouts()).for_sdk(),
            max_retries=0,
        )

    def __repr__(self) -> str:
        return f"AnthropicProvider(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    def complete(self, request: LLMRequest) -> LLMResponse:
        reservation = self._ledger.reserve(
            stage=request.stage,
            model=self.model,
            budget_key=request.budget_key,
            estimate_usd=cost_bound(self.price, request),
        )
        try:
            message = self._create_with_retries(self.message_params(request))
        except BaseException:
            self._ledger.release(reservation)
            raise
        usage = self._usage(message)
        self._ledger.settle(reservation, usage=usage, message_id=message.id)
        log.info(
            CALL_DONE,
            self.model,
            request.stage,
            usage.input_tokens,
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
            usage.output_tokens,
            usage.cost_usd,
        )
        return self._response(request, message, usage)

    def message_params(self, request: LLMRequest) -> dict[str, Any]:
        """The Messages API body for `request`."""
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        if request.system:
            params["system"] = system_blocks(request.system)
        if request.tool is not None:
            tool = request.tool
            params["tools"] = [
                {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
            ]
            forced = model_alias(self.model) not in NO_FORCED_TOOL_CHOICE
            params["tool_choice"] = {"type": "tool", "name": tool.name} if forced else {"type": "auto"}
        return params

    def _create_with_retries(self, params: dict[str, Any]) -> Message:
        attempts = self._retry.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._stream_once(params)
            except anthropic.APIError as exc:
                if not _is_retryable(exc) or attempt == attempts:
                    raise self._error(exc, attempt) from None
                delay = self._delay(exc, attempt)
                log.warning(RETRYING, self._describe(exc), attempt, attempts, delay)
                time.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _stream_once(self, params: dict[str, Any]) -> Message:
        with self._client.messages.stream(**params) as stream:
            try:
                message: Message | None = stream.get_final_message()
            except AssertionError:  # how the SDK says that no message_start event came
                message = None
        if message is None:
            raise LLMError(UNREADABLE.format(reason="the stream ended before a message arrived"))
        return message

    def _delay(self, exc: anthropic.APIError, attempt: int) -> float:
        if isinstance(exc, anthropic.APIStatusError):
            asked = retry_after_seconds(exc.response.headers)
            if asked is not None:
                if asked > self._retry.max_retry_after:
                    raise LLMError(
                        RETRY_AFTER_TOO_LONG.format(wait=asked, limit=self._retry.max_retry_after)
                    ) from None
                return asked
        return self._retry.backoff(attempt)

    def _error(self, exc: anthropic.APIError, attempts: int) -> LLMError:
        # Built from chosen fields only, then scrubbed: a proxy echoing the request must not leak the key.
        if isinstance(exc, anthropic.APIStatusError):
            kind, text = exc.type or "unknown", exc.api_message or exc.message
            if exc.status_code < 400:
                message = STREAM_ERROR.format(kind=kind, message=text)
            else:
                message = API_ERROR.format(status=exc.status_code, kind=kind, message=text)
        elif isinstance(exc, anthropic.APIConnectionError):
            message = UNREACHABLE.format(attempts=attempts, reason=self._describe(exc))
        else:
            message = UNREADABLE.format(reason=self._describe(exc))
        return LLMError(self._redact(message))

    def _describe(self, exc: anthropic.APIError) -> str:
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code if exc.status_code >= 400 else "stream error"
            return f"{status} {exc.type or ''}".strip()
        if isinstance(exc, anthropic.APITimeoutError):
            return "request timed out"
        if isinstance(exc, anthropic.APIConnectionError):
            return self._redact(f"connection error ({exc.__cause__ or exc})")
        return self._redact(f"{type(exc).__name__}: {exc}")

    def _redact(self, text: str) -> str:
        secret = self._key.get_secret_value()
        return text.replace(secret, REDACTED) if secret else text

    def _usage(self, message: Message) -> Usage:
        raw = message.usage
        if raw is None or message.content is None:
            # Whatever answered was not the Messages API. What it billed is unknown, so the reservation
            # keeps counting at its worst case.
            raise LLMError(UNREADABLE.format(reason="the answer has no content or usage"))
        usage = Usage(
            input_tokens=raw.input_tokens,
            output_tokens=raw.output_tokens,
            cache_creation_input_tokens=raw.cache_creation_input_tokens or 0,
            cache_read_input_tokens=raw.cache_read_input_tokens or 0,
        )
        return replace(usage, cost_usd=usage_cost(self.price, usage))

    def _response(self, request: LLMRequest, message: Message, usage: Usage) -> LLMResponse:
        text = "".join(block.text for block in message.content if block.type == "text")
        tool_input: dict[str, Any] | None = None
        if request.tool is not None:
            calls = [b for b in message.content if b.type == "tool_use" and b.name == request.tool.name]
            if not calls:
                raise LLMError(
                    TOOL_NOT_CALLED.format(tool=request.tool.name, stop_reason=message.stop_reason)
                )
            tool_input = dict(calls[0].input)
        return LLMResponse(
            text=text,
            tool_input=tool_input,
            model=message.model,
            usage=usage,
            stop_reason=message.stop_reason or "",
        )
