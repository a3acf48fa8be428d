"""One service name, one owner: which intent file owns a service name that several files say.

Each service runs under its name (its branch `intentops/<name>`, its deployment, its registry entry), so
a second file saying the same `service_name` would silently replace the first file's service. The second
is invalid instead. Which file owns a name is decided by these rules, in order, so every caller (the
bot on a push, `intentops validate`, the HTTP API) reaches the same answer:

1. **The known owner.** A file the caller already knows as the name's owner (for the bot: the ledger's
   record for the name, the file whose service is being built or is running) keeps the name while it
   still says it.
2. **Earlier before newer.** Otherwise a file that was already on the default branch before the change
   being checked (for a push: every intent file the push did not add; for a pull request: its base)
   owns it over files the change adds.
3. **Sorted order.** Among files of equal standing, the first path in sorted order (plain code-point
   order of the paths as given, e.g. `intents/a.yaml` before `intents/b.yaml` before `intents/team/a.yaml`).

Only valid files claim a name: an invalid file has its own problems and is reported for those.
Everything here is pure: the caller reads the files and the ledger, and passes what it found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from pipeline.intents.loader import LocatedIntent, load_located_intent
from pipeline.intents.model import Intent
from pipeline.intents.problems import IntentProblem, InvalidIntent

NAME_TAKEN = (
    "the service name '{name}' is already owned by {owner}; one service name has one intent file: "
    "change {owner} to change that service, or give this one another name"
)

IntentSource = bytes | str | Intent | LocatedIntent
"""An intent file as the caller has it: raw bytes (as committed), text, or an already loaded intent."""


@dataclass(frozen=True)
class NameClaim:
    """A valid intent file saying a service name, and where it says it (0, 0 when not known)."""

    path: str
    service_name: str
    line: int
    column: int


def name_claims(files: Mapping[str, IntentSource]) -> list[NameClaim]:
    """The service name each valid file claims, in sorted path order. Invalid files claim nothing."""
    claims = []
    for path in sorted(files):
        claim = _claim(path, files[path])
        if claim is not None:
            claims.append(claim)
    return claims


def owner_of(
    claimants: Iterable[str], *, known_owner: str | None = None, earlier: Collection[str] = ()
) -> str:
    """Which of the paths claiming one name owns it (the module's rules 1 to 3). Raises ValueError when
    there is no claimant."""
    paths = sorted(set(claimants))
    if not paths:
        raise ValueError("owner_of needs at least one path claiming the name")
    if known_owner in paths:
        return known_owner
    older = [path for path in paths if path in earlier]
    return (older or paths)[0]


def name_owners(
    files: Mapping[str, IntentSource],
    *,
    known_owners: Mapping[str, str] | None = None,
    earlier: Collection[str] = (),
) -> dict[str, str]:
    """Service name -> the path owning it, for every name a valid file among `files` claims.

    `known_owners`: service name -> the path the caller already knows as its owner (the ledger's record).
    `earlier`: paths that were on the default branch before the change being checked."""
    known = known_owners or {}
    return {
        name: owner_of(paths, known_owner=known.get(name), earlier=earlier)
        for name, paths in _claimants(name_claims(files)).items()
    }


def duplicate_names(
    files: Mapping[str, IntentSource],
    *,
    known_owners: Mapping[str, str] | None = None,
    earlier: Collection[str] = (),
) -> list[IntentProblem]:
    """One problem for every valid file that claims a name another file owns, at its `service_name`
    line, naming the owner. Sorted by path. `files` should hold every intent file that may claim the
    names at stake (all intent files of the commit, or at least the ones the ledger knows for those
    names plus the ones the change touched)."""
    claims = name_claims(files)
    owners = name_owners(files, known_owners=known_owners, earlier=earlier)
    return [
        IntentProblem(
            claim.path,
            claim.line,
            claim.column,
            NAME_TAKEN.format(name=claim.service_name, owner=owners[claim.service_name]),
            "service_name",
        )
        for claim in claims
        if owners[claim.service_name] != claim.path
    ]


def _claimants(claims: Iterable[NameClaim]) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = defaultdict(list)
    for claim in claims:
        paths[claim.service_name].append(claim.path)
    return dict(paths)


def _claim(path: str, source: IntentSource) -> NameClaim | None:
    located = _located(path, source)
    if located is None:
        return None
    if isinstance(located, Intent):
        return NameClaim(path, located.service_name, 0, 0)
    line, column = located.position_of("service_name")
    return NameClaim(path, located.intent.service_name, line, column)


def _located(path: str, source: IntentSource) -> Intent | LocatedIntent | None:
    if isinstance(source, Intent | LocatedIntent):
        return source
    try:
        return load_located_intent(source, source=path)
    except InvalidIntent:
        return None
