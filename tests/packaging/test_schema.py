"""The intent JSON Schema committed in schemas/ is the one the intent model publishes (`intentops schema`),
under its stable $id, so editors pointed at the file complete and check what the line accepts."""

from __future__ import annotations

import json

from pipeline.intents.model import SCHEMA_ID, intent_json_schema
from tests.packaging.conftest import ROOT

SCHEMA_FILE = ROOT / "schemas" / "intent.schema.json"
REGENERATE = (
    "schemas/intent.schema.json is stale: regenerate it with `intentops schema > schemas/intent.schema.json`"
)


def test_committed_schema_is_the_generated_one() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed["$id"] == SCHEMA_ID == "https://intentops.dev/schemas/intent.schema.json"
    assert committed == intent_json_schema(), REGENERATE
