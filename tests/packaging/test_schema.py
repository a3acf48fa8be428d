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


def test_data_files_are_found_through_pipeline_resources() -> None:
    """A path built beside the package (`parents[2] / "templates"`) exists in a checkout only: it is what
    made `spec` and `up` fail from a wheel. Every shipped name goes through pipeline.resources."""
    import re

    from pipeline.resources import SHIPPED

    tops = "|".join(re.escape(name.split("/")[0]) for name in SHIPPED)
    beside = re.compile(rf"parents\[\d\]\s*/\s*\"({tops})")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in ("bot", "pipeline", "forge")
        for path in (ROOT / package).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if beside.search(line)
    ]
    assert not offenders, f"use pipeline.resources.resource() for shipped files: {offenders}"


def test_the_readme_walkthrough_shows_the_schema_line_and_its_pictures() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"# yaml-language-server: $schema={SCHEMA_ID}" in readme
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", readme)
    assert len(pictures) >= 2
    missing = [picture for picture in pictures if not (ROOT / picture).is_file()]
    assert not missing, (
        f"take them with INTENTOPS_README_SCREENSHOTS=1 (tests/fixtures/browser.py): {missing}"
    )
