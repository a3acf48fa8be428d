"""Random intents that use every hint kind together (relations, seed rows, conditions of every operator,
sort keys, pages, lookups by a field, counters, redirects, fixed answers): each reaches the gate offline,
its generated code compiles, and, for a few of them, its generated tests pass in the sandbox."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.codegen.generator import generate_service
from pipeline.intents import parse_intent_mapping
from pipeline.sandbox import ProcessSandbox
from pipeline.spec.builder import build_spec
from pipeline.spec.optimizer import optimize

TYPES = ["string", "integer", "number", "boolean", "datetime", "url"]
OPS = {
    "string": ["eq", "ne", "lt", "gt", "contains"],
    "url": ["eq", "ne", "contains"],
    "integer": ["eq", "ne", "lt", "lte", "gt", "gte"],
    "number": ["eq", "ne", "lt", "lte", "gt", "gte"],
    "boolean": ["eq", "ne"],
    "datetime": ["lt", "lte", "gt", "gte"],
}
PARAM_TYPES = ("string", "integer", "number", "boolean")


def literal(rng: random.Random, kind: str) -> Any:
    return {
        "string": rng.choice(["a", "zz", "Hello"]),
        "integer": rng.randint(-5, 5),
        "number": rng.choice([0.5, -1.25, 3]),
        "boolean": rng.choice([True, False]),
        "datetime": rng.choice(["now", "now-7d", "2020-01-01T00:00:00Z", "now+2h"]),
        "url": "https://x.example/a",
    }[kind]


def condition(rng: random.Random, kind: str) -> Any:
    op = rng.choice(OPS[kind])
    value = "a" if op == "contains" else literal(rng, kind)
    return value if op == "eq" and rng.random() < 0.5 else {op: value}


def random_intent(rng: random.Random) -> dict[str, Any]:
    fields = {f"f{i}": rng.choice(TYPES) for i in range(rng.randint(1, 4))}
    required = [name for name in fields if rng.random() < 0.4]
    item: dict[str, Any] = {"name": "item", "fields": fields, "required": required}
    resources = [item]
    parent = rng.random() < 0.4
    if parent:
        resources.insert(0, {"name": "box", "fields": {"label": "string"}, "seed": [{"label": "one"}]})
        item["belongs_to"] = [{"resource": "box", "on_delete": rng.choice(["restrict", "cascade"])}]
    if rng.random() < 0.5:
        row = {k: literal(rng, t) if t != "datetime" else "2021-05-05T00:00:00Z" for k, t in fields.items()}
        item["seed"] = [{**row, **({"box_id": 1} if parent else {})}]
    return {
        "service_name": "fuzzed",
        "purpose": "Exercise every hint kind at once.",
        "blueprint_context": "Shared internal tools.",
        "storage": rng.choice(["memory", "sqlite"]),
        "resources": resources,
        "endpoints": _endpoints(rng, fields, required, parent),
    }


def _endpoints(
    rng: random.Random, fields: dict[str, str], required: list[str], parent: bool
) -> list[dict[str, Any]]:
    where = {name: condition(rng, kind) for name, kind in fields.items() if rng.random() < 0.5}
    path = "/items/q"
    keyed = [name for name, kind in fields.items() if kind in PARAM_TYPES]
    if keyed and rng.random() < 0.3:
        where[keyed[0]], path = "{p}", "/items/by/{p}"
    if parent and rng.random() < 0.5:
        where["box_id"], path = "{b}", path + "/in/{b}"
    order = [
        ("-" if rng.random() < 0.5 else "") + n
        for n, k in fields.items()
        if k != "boolean" and rng.random() < 0.4
    ]
    query = {
        "resource": "item",
        "where": where,
        "order": order,
        "single": rng.random() < 0.3,
        "limit": rng.randint(1, 20),
    }
    numbers = [name for name, kind in fields.items() if kind in ("integer", "number")]
    function = rng.choice(["count", "sum", "min", "max"]) if numbers else "count"
    aggregate: dict[str, Any] = {"resource": "item", "function": function}
    if function != "count":
        aggregate["field"] = rng.choice(numbers)
    if rng.random() < 0.6:
        aggregate["group_by"] = rng.choice([*fields, *(["box_id"] if parent else [])])
    endpoints = [
        {"method": "GET", "path": path, "query": query},
        {"method": "GET", "path": "/items/stats", "aggregate": aggregate},
        {"method": "GET", "path": "/fixed", "respond": {"a": [1, "b"]}},
    ]
    sets = {
        n: ("now" if k == "datetime" else literal(rng, k))
        for n, k in fields.items()
        if n not in [] and rng.random() < 0.3
    }
    increments = {
        n: (1 if fields[n] == "integer" else 0.5) for n in numbers if n not in sets and rng.random() < 0.5
    }
    lookups = [n for n in ["id", *keyed] if n not in sets and n not in increments]
    if sets or increments:
        action = {"resource": "item", "lookup": rng.choice(lookups), "set": sets, "increment": increments}
        endpoints.append(
            {"method": rng.choice(["POST", "PATCH", "PUT"]), "path": "/items/{k}/act", "action": action}
        )
    urls = [name for name, kind in fields.items() if kind == "url"]
    if urls:
        counters = {n: 1 for n in numbers if fields[n] == "integer"}
        redirect = {
            "resource": "item",
            "to": urls[0],
            "lookup": rng.choice([n for n in ["id", *keyed] if n not in counters]),
            "increment": counters,
            "status": rng.choice([301, 302, 303, 307, 308]),
        }
        endpoints.append({"method": "GET", "path": "/go/{c}", "redirect": redirect})
    return endpoints


def build(seed: int, root: Path) -> Path:
    data = random_intent(random.Random(seed))
    intent = parse_intent_mapping(data, source="intents/fuzzed.yaml")
    report = optimize(build_spec(intent))
    assert report.reached_gate, [f.message for f in report.verification.findings if f.hard]
    shutil.rmtree(root / str(seed), ignore_errors=True)
    return generate_service(report.spec, root / str(seed)).directory


@given(seed=st.integers(min_value=0, max_value=10**6))
@settings(
    max_examples=25, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_any_mix_of_hints_reaches_the_gate_and_compiles(seed: int, tmp_path_factory: Any) -> None:
    directory = build(seed, tmp_path_factory.mktemp("fuzzed"))
    for source in directory.rglob("*.py"):
        compile(source.read_text(), str(source), "exec")


def test_a_few_mixes_pass_their_own_tests(tmp_path: Path, sandbox_python: Path) -> None:
    for seed in (3, 11, 29):
        directory = build(seed, tmp_path)
        result = ProcessSandbox(sandbox_python).run_tests(directory)
        assert result.ok, (seed, [f.message[-600:] for f in result.failures])
