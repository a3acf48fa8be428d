"""The architecture's import rules: bot -> pipeline only; pipeline and forge import neither of the others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# The CLI's composition root may import all three (DESIGN.md: "Only the command that starts everything").
COMPOSITION_ROOTS = {"bot/cli"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("pipeline", {"bot", "forge"}), ("forge", {"bot", "pipeline"}), ("bot", {"forge"})],
)
def test_imports_run_one_way(package: str, forbidden: set[str]) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if any(relative.startswith(root + "/") for root in COMPOSITION_ROOTS):
            continue
        bad = _imports(path) & forbidden
        if bad:
            offenders.append(f"{relative} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_nothing_reads_the_environment_outside_settings() -> None:
    offenders = []
    for package in ("pipeline", "bot", "forge"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in {"bot/settings.py", "forge/settings.py"}:
                continue
            text = path.read_text(encoding="utf-8")
            if "os.environ[" in text or "os.getenv(" in text or "os.environ.get(" in text:
                offenders.append(relative)
    assert offenders == []
