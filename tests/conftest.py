"""Shared fixtures and fakes for the whole suite. Fakes fail loudly on any call they do not expect.

Fakes exist only for what cannot run here (github.com, the Claude API); everything else is real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "examples"

pytest_plugins = [
    "tests.fixtures.anthropic_api",
    "tests.fixtures.clock",
    "tests.fixtures.database",
    "tests.fixtures.fake_llm",
    "tests.fixtures.forge",
    "tests.fixtures.generated",
    "tests.fixtures.line",
    "tests.fixtures.browser",
    "tests.fixtures.postgres",
    "tests.fixtures.swarm",
    "tests.fixtures.xdist_groups",
]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """GitHub's and Anthropic's real reference data (schemas, payloads, responses)."""
    github = SHARED / "github"
    if not github.is_dir():
        pytest.fail(f"reference data missing: {github} (the tests need ../shared beside the checkout)")
    return SHARED


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES
