"""The wheel's build step beyond pyproject.toml: IntentOps' data files (templates, policies, examples, the
lock the generated services pin from, helper scripts) are copied into the `pipeline` package, under
`pipeline/_shipped/`, where `pipeline.resources` finds them in an installed IntentOps."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SKIPPED = ("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


def shipped_names() -> tuple[str, ...]:
    """pipeline.resources.SHIPPED, read without importing the package (its dependencies may be absent)."""
    tree = ast.parse((ROOT / "pipeline" / "resources.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SHIPPED" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError("pipeline/resources.py defines no SHIPPED tuple")


class BuildWithData(build_py):
    """build_py, then the data files into build/lib/pipeline/_shipped/."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "pipeline" / "_shipped"
        for name in shipped_names():
            source = ROOT / name
            if not source.exists():
                raise RuntimeError(f"cannot build the wheel: {name} is missing from the checkout")
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(
                    source, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*SKIPPED)
                )
            else:
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithData})
