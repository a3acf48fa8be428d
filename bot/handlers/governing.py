"""What governs the line in an intents repository (its policy files, BLUEPRINT.md and `line/stages.yaml`)
at a commit, and which changes of a pull request touch it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.vcs.client import RepoClient
from pipeline.adoption.stagefile import STAGES_FILE

POLICIES_DIR = "policies"
POLICY_SUFFIXES = (".yaml", ".yml", ".json")
BLUEPRINT = "BLUEPRINT.md"


@dataclass(frozen=True)
class GoverningFiles:
    """The policy files and blueprint of one commit of the default branch."""

    policies: dict[str, bytes]
    blueprint: bytes | None
    stages: bytes | None = None
    """`line/stages.yaml`: which implementation serves each stage (None: every stage built in)."""

    @property
    def blueprint_text(self) -> str | None:
        return self.blueprint.decode("utf-8", "replace") if self.blueprint is not None else None


def governing_files(repo: RepoClient, ref: str) -> GoverningFiles:
    """What governs intents pushed on top of `ref` ("": a branch with no history, so nothing yet: the
    bot's floor policies alone decide, and without a blueprint nothing is auto-approved)."""
    if not ref:
        return GoverningFiles({}, None)
    policies = {
        path: repo.read_file(path, ref) or b""
        for path in repo.list_dir(POLICIES_DIR, ref)
        if path.endswith(POLICY_SUFFIXES)
    }
    return GoverningFiles(policies, repo.read_file(BLUEPRINT, ref), repo.read_file(STAGES_FILE, ref))


GOVERNING_PREFIXES = ("policies/", ".github/", "line/")
GOVERNING_FILES = frozenset({"BLUEPRINT.md"})


def governs_the_line(path: str) -> bool:
    """Files that decide how intents are governed: a change to them is a policy change."""
    return path in GOVERNING_FILES or path.startswith(GOVERNING_PREFIXES)


def governing_changes(repo: RepoClient, number: int) -> list[str]:
    return sorted(name for name, _added, _removed in repo.pull_files(number) if governs_the_line(name))
