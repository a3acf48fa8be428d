"""The cases of a shadow evaluation: recent real intents as the line saw them.

Each `ShadowCase` is an intent with its content at its commit, the blueprint and policies of the default
branch at the commit before it (what governed it), the server-side floor, and what people decided about
it, from the ledger. `cases_from_ledger` picks the last N of a repository; it reads files through the
callables it is given (the bot passes its repository client; tests pass a dict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pipeline.governance.loading import PolicyLoadError, PolicySet, load_policy_sources
from pipeline.intents import Intent, InvalidIntent, load_intent
from pipeline.ledger import IntentRecord, IntentState, Ledger
from pipeline.shadow.model import CaseSummary, HumanOutcome

DEFAULT_CASES = 20
MAX_CASES = 200
PAGE = 100
SCAN_FACTOR = 5
"""At most SCAN_FACTOR x N ledger records are looked at to find N usable intents."""
POLICIES_DIR = "policies"
POLICY_SUFFIXES = (".yaml", ".yml", ".json")
BLUEPRINT_FILE = "BLUEPRINT.md"
NO_COMMIT = "{path}: the ledger has no commit for it"
GONE = "{path}: no file at {commit}"
DOES_NOT_LOAD = "{path}: its file at {commit} no longer loads: {problem}"
BAD_LIMIT = "the number of intents must be between 1 and {most}, not {limit}"

Read = Callable[[str, str], bytes | None]
"""(path, ref) -> the file's bytes at that commit, or None when there is none."""
Parent = Callable[[str], str | None]
"""A commit -> its (first) parent, or None for the first commit."""
ListDir = Callable[[str, str], list[str]]
"""(folder, ref) -> the paths of the files in that folder at that commit."""

OUTCOMES: Mapping[IntentState, HumanOutcome] = MappingProxyType(
    {
        IntentState.APPROVED: HumanOutcome.SIGNED_OFF,
        IntentState.MERGED: HumanOutcome.SIGNED_OFF,
        IntentState.DEPLOYING: HumanOutcome.SIGNED_OFF,
        IntentState.DEPLOYED: HumanOutcome.SIGNED_OFF,
        IntentState.DEPLOY_FAILED: HumanOutcome.SIGNED_OFF,
        IntentState.REJECTED: HumanOutcome.REJECTED,
        IntentState.BLOCKED: HumanOutcome.BLOCKED,
        IntentState.UNDEPLOYED: HumanOutcome.REVERTED,
    }
)
"""An intent's state in the ledger -> what was decided about it; other states are undecided."""


def outcome_of(state: IntentState) -> HumanOutcome:
    return OUTCOMES.get(state, HumanOutcome.UNDECIDED)


@dataclass(frozen=True)
class ShadowCase:
    """One recent intent, with what governed it and what people decided."""

    path: str
    intent: Intent
    blueprint: str
    """BLUEPRINT.md of the default branch before the intent's commit ("" when there was none)."""
    policies: Mapping[str, bytes] = field(default_factory=dict)
    """The policy files of the default branch before the intent's commit (path -> content)."""
    floor: PolicySet | None = None
    outcome: HumanOutcome = HumanOutcome.UNDECIDED
    commit: str = ""
    author: str = ""

    @property
    def id(self) -> str:
        """How reports name it: `intents/notes.yaml@1a2b3c4` (the path alone without a commit)."""
        return f"{self.path}@{self.commit[:7]}" if self.commit else self.path

    def summary(self) -> CaseSummary:
        return CaseSummary(
            id=self.id, service_name=self.intent.service_name, commit=self.commit, outcome=self.outcome
        )

    def policy_set(self) -> PolicySet | None:
        """The repository's policies of the time; None when they did not load (only the floor applies)."""
        try:
            return load_policy_sources(dict(self.policies))
        except PolicyLoadError:
            return None


@dataclass(frozen=True)
class PickedCases:
    cases: tuple[ShadowCase, ...]
    skipped: tuple[str, ...] = ()
    """Recent intents that could not be replayed, and why."""


def cases_from_ledger(
    ledger: Ledger,
    *,
    repo: str,
    read: Read,
    parent: Parent,
    list_dir: ListDir,
    floor: PolicySet | None,
    limit: int = DEFAULT_CASES,
) -> PickedCases:
    """The last `limit` intents of `repo` in the ledger (most recently active first), each with its content
    at its commit and the blueprint and policies at the commit before it."""
    return pick_cases(
        _records(ledger, repo, limit), read=read, parent=parent, list_dir=list_dir, floor=floor, limit=limit
    )


def pick_cases(
    records: Iterable[IntentRecord],
    *,
    read: Read,
    parent: Parent,
    list_dir: ListDir,
    floor: PolicySet | None,
    limit: int = DEFAULT_CASES,
) -> PickedCases:
    """Up to `limit` cases from `records` (newest first); records that cannot be replayed are skipped and
    said so. Files of one commit are read once, however many intents share it."""
    _check_limit(limit)
    governing = _Governing(read, parent, list_dir)
    cases: list[ShadowCase] = []
    skipped: list[str] = []
    for record in records:
        if len(cases) >= limit:
            break
        case = _case(record, read, governing, floor)
        if isinstance(case, str):
            skipped.append(case)
        else:
            cases.append(case)
    return PickedCases(tuple(cases), tuple(skipped))


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_CASES:
        raise ValueError(BAD_LIMIT.format(most=MAX_CASES, limit=limit))


def _records(ledger: Ledger, repo: str, limit: int) -> Iterable[IntentRecord]:
    """The repository's records, newest first, looking at no more than SCAN_FACTOR x `limit` of them."""
    _check_limit(limit)
    budget = SCAN_FACTOR * limit
    offset = 0
    while budget > 0:
        page = ledger.list_intents(limit=PAGE, offset=offset)
        for record in page:
            if record.repo == repo:
                budget -= 1
                yield record
                if budget <= 0:
                    return
        if len(page) < PAGE:
            return
        offset += PAGE


def _case(
    record: IntentRecord, read: Read, governing: _Governing, floor: PolicySet | None
) -> ShadowCase | str:
    """The case of one record, or why it has none."""
    if not record.commit_sha:
        return NO_COMMIT.format(path=record.path)
    data = read(record.path, record.commit_sha)
    if data is None:
        return GONE.format(path=record.path, commit=record.commit_sha[:7])
    try:
        intent = load_intent(data, source=record.path)
    except InvalidIntent as exc:
        problem = str(exc.problems[0]) if exc.problems else "invalid"
        return DOES_NOT_LOAD.format(path=record.path, commit=record.commit_sha[:7], problem=problem)
    blueprint, policies = governing.before(record.commit_sha)
    return ShadowCase(
        path=record.path,
        intent=intent,
        blueprint=blueprint,
        policies=policies,
        floor=floor,
        outcome=outcome_of(record.state),
        commit=record.commit_sha,
        author=record.author,
    )


class _Governing:
    """The blueprint and policy files of the commit before a given one, each commit read once."""

    def __init__(self, read: Read, parent: Parent, list_dir: ListDir) -> None:
        self._read = read
        self._parent = parent
        self._list_dir = list_dir
        self._seen: dict[str, tuple[str, Mapping[str, bytes]]] = {}

    def before(self, commit: str) -> tuple[str, Mapping[str, bytes]]:
        ref = self._parent(commit) or ""
        if ref not in self._seen:
            self._seen[ref] = self._at(ref)
        return self._seen[ref]

    def _at(self, ref: str) -> tuple[str, Mapping[str, bytes]]:
        if not ref:  # the intent came with the repository's first commit: nothing governed it yet
            return "", MappingProxyType({})
        blueprint = self._read(BLUEPRINT_FILE, ref)
        policies = {
            path: self._read(path, ref) or b""
            for path in self._list_dir(POLICIES_DIR, ref)
            if path.endswith(POLICY_SUFFIXES)
        }
        text = blueprint.decode("utf-8", "replace") if blueprint is not None else ""
        return text, MappingProxyType(policies)
