"""Values for generated tests: candidates around each condition, and a small oracle that says which meet it.

The oracle decides, at generation time, which sample rows a behaviour must keep and which it must leave
out; the generated test then asserts exactly those rows (by id, in order), so the service's own code is
checked against an independent reading of the SPEC. Date-times near "now" are written relative to the
test's own clock (`Relative`), so a test run next year still means what it meant today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.intents import FieldType, Op
from pipeline.spec.model import Condition

FAR_PAST = "2000-01-01T00:00:00Z"
FAR_FUTURE = "2999-01-01T00:00:00Z"
DAY = 86_400
PARAM_SAMPLES: dict[FieldType, Any] = {
    FieldType.STRING: "p-sample",
    FieldType.INTEGER: 41,
    FieldType.NUMBER: 2.5,
    FieldType.BOOLEAN: True,
}
"""The value a path parameter takes in a test, by the type of the field it stands for."""


@dataclass(frozen=True)
class Relative:
    """A date-time `seconds` from the moment the test runs (negative: in the past)."""

    seconds: int

    def code(self) -> str:
        return f"at(moment, {self.seconds})"


@dataclass(frozen=True)
class ParentId:
    """The id of the `index`-th parent row a test creates (of the resource a relation field names)."""

    index: int

    def code(self, var: str) -> str:
        return f'{var}["id"]'


def offset_seconds(offset: str) -> int:
    if not offset:
        return 0
    sign = -1 if offset[0] == "-" else 1
    unit = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}[offset[-1]]
    return sign * int(offset[1:-1]) * unit


def now_at_generation() -> datetime:
    return datetime.now(UTC)


def normal(kind: FieldType, value: Any, *, now: datetime) -> Any:
    """What the service compares: date-times as instants (relative ones from `now`), the rest as is."""
    if value is None:
        return None
    if isinstance(value, Relative):
        return now + timedelta(seconds=value.seconds)
    if isinstance(value, ParentId):
        return value.index
    if kind is FieldType.DATETIME and isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def wanted(condition: Condition, kind: FieldType, params: dict[str, Any], *, now: datetime) -> Any:
    if condition.source == "now":
        return now + timedelta(seconds=offset_seconds(str(condition.value or "")))
    if condition.source == "param":
        return normal(kind, params[str(condition.value)], now=now)
    return normal(kind, condition.value, now=now)


def holds(
    condition: Condition, kind: FieldType, value: Any, params: dict[str, Any], *, now: datetime
) -> bool:
    """Whether a row whose field has `value` meets `condition` (as app/behaviours.py decides it)."""
    actual = normal(kind, value, now=now)
    target = wanted(condition, kind, params, now=now)
    if condition.op is Op.EQ:
        return bool(actual == target)
    if condition.op is Op.NE:
        return bool(actual != target)
    if condition.op is Op.CONTAINS:
        return isinstance(actual, str) and isinstance(target, str) and target.lower() in actual.lower()
    if actual is None or target is None:
        return False
    comparisons = {
        Op.LT: lambda: actual < target,
        Op.LTE: lambda: actual <= target,
        Op.GT: lambda: actual > target,
        Op.GTE: lambda: actual >= target,
    }
    try:
        return bool(comparisons[condition.op]())
    except TypeError:
        return False


def candidates(
    kind: FieldType, conditions: list[Condition], params: dict[str, Any], *, required: bool, sample: Any
) -> list[Any]:
    """Values worth trying for a field: its sample, and values on and either side of each condition's."""
    # A fixed date-time compared with "now" would meet the condition today and not in a year: only values
    # relative to the test's clock, or centuries away, are tried.
    relative = any(c.source == "now" for c in conditions)
    found: list[Any] = [] if relative else [sample]
    for condition in conditions:
        found += _around(kind, condition, params)
    if not required:
        found.append(None)
    unique: list[Any] = []
    for value in found:
        if value not in unique:
            unique.append(value)
    return unique


def _around(kind: FieldType, condition: Condition, params: dict[str, Any]) -> list[Any]:
    if condition.source == "now":
        base = offset_seconds(str(condition.value or ""))
        return [Relative(base - DAY), Relative(base + DAY), FAR_PAST, FAR_FUTURE]
    value: Any = params[str(condition.value)] if condition.source == "param" else condition.value
    if value is None:
        return [PARAM_SAMPLES.get(kind, "x")]
    if isinstance(value, ParentId):
        return [value, ParentId(value.index + 1)]
    if kind is FieldType.BOOLEAN:
        return [True, False]
    if kind is FieldType.INTEGER:
        return [value - 1, value, value + 1]
    if kind is FieldType.NUMBER:
        return [value - 0.5, value, value + 0.5]
    if kind is FieldType.DATETIME:
        moment = normal(kind, value, now=now_at_generation())
        return [_iso(moment - timedelta(days=1)), value, _iso(moment + timedelta(days=1))]
    if kind is FieldType.URL:  # every candidate must be a URL the service accepts
        if condition.op is Op.CONTAINS:
            return [f"https://example.org/x{value}y", _url_without(str(value))]
        return [value, f"{value}/other", _url_without(str(value))]
    if condition.op is Op.CONTAINS:
        return [f"x{value}y", f"X{str(value).upper()}Y", _without(str(value))]
    return [value, f"{value}~", "", f"{value} (other)"]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without(text: str) -> str:
    """Text that does not contain `text` (ignoring case)."""
    for filler in ("qqq", "zzz", "---", "777"):
        if text.lower() not in filler:
            return filler
    return "x"


def _url_without(text: str) -> str:
    """An http(s) URL that does not contain `text` (ignoring case)."""
    for url in ("https://q.example/", "http://z9.test/", "https://w.example/77"):
        if text.lower() not in url:
            return url
    return "https://example.invalid/"


def code_of(value: Any, parents: list[str]) -> str:
    """The Python expression of a sample value in a generated test."""
    if isinstance(value, Relative):
        return value.code()
    if isinstance(value, ParentId):
        return value.code(parents[value.index])
    return repr(value)
