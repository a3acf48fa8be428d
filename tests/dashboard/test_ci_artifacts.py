"""CI keeps the screenshots the browser tests take, also (above all) when a test failed."""

from __future__ import annotations

from ruamel.yaml import YAML

from tests.conftest import ROOT
from tests.fixtures.browser import SCREENSHOTS


def test_ci_uploads_the_screenshots_even_after_a_failure() -> None:
    workflow = YAML(typ="safe").load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    folder = SCREENSHOTS.relative_to(ROOT).as_posix()
    kept = [s for s in uploads if s["with"]["path"].rstrip("/") == folder and s.get("if") == "always()"]
    assert kept, uploads
    assert workflow["permissions"] == {}
