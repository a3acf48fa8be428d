"""The architecture's import rules: bot -> pipeline only; pipeline and forge import neither of the others;
the forge only in the composition roots named here; PyGithub only behind bot/vcs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("bot", "pipeline", "forge")

COMPOSITION_ROOTS: dict[str, str] = {
    "bot/cli/stack.py": "`intentops up` and `intentops demo`: the forge, a demo repository and the bot",
    "bot/cli/forge_cmd.py": "`intentops forge serve` starts the forge (and mounts the forge's own commands)",
}
"""The only modules allowed to import bot, pipeline and forge together (DESIGN.md: "Only the command that
starts everything at once"), each with the command it starts. The rest of the bot reaches the forge over
HTTP, as it reaches GitHub."""

PYGITHUB = "github"
PYGITHUB_HOME = "bot/vcs/"
"""PyGithub (and its exceptions) stay behind the bot's forge adapter."""


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports anywhere in the module (inside functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(*packages: str) -> list[tuple[str, set[str]]]:
    """(path relative to the checkout, the names it imports) for every module of `packages`."""
    return [
        (path.relative_to(ROOT).as_posix(), _imports(path))
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("pipeline", {"bot", "forge"}), ("forge", {"bot", "pipeline"}), ("bot", {"forge"})],
)
def test_imports_run_one_way(package: str, forbidden: set[str]) -> None:
    offenders = [
        f"{relative} imports {', '.join(sorted(bad))}"
        for relative, names in _modules(package)
        if relative not in COMPOSITION_ROOTS and (bad := names & forbidden)
    ]
    assert offenders == []


def test_every_composition_root_named_exists_and_imports_the_forge() -> None:
    """An exemption that no longer exempts anything is removed, so the list stays exact."""
    imports = dict(_modules("bot"))
    stale = [root for root in COMPOSITION_ROOTS if "forge" not in imports.get(root, set())]
    assert stale == []


def test_only_bot_vcs_imports_pygithub() -> None:
    offenders = [
        relative
        for relative, names in _modules(*PACKAGES)
        if PYGITHUB in names and not relative.startswith(PYGITHUB_HOME)
    ]
    assert offenders == []


def test_nothing_reads_the_environment_outside_settings() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in {"bot/settings.py", "forge/settings.py"}:
                continue
            text = path.read_text(encoding="utf-8")
            if "os.environ[" in text or "os.getenv(" in text or "os.environ.get(" in text:
                offenders.append(relative)
    assert offenders == []
