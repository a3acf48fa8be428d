"""Reconciliation: compare what the default branch wants with what runs and is registered, then fix drift.

Desired: one service per intent on the default branch, built into `services/<name>/`. Actual: the
deployer's live instances and the registry's entries. `plan_drift` is pure; `reconcile` applies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pipeline.deploy.deployer import Deployer
from pipeline.deploy.model import Backend, DeployRequest, DeployResult, Instance, UndeployResult
from pipeline.intents import InvalidIntent, load_intent_file
from pipeline.manifest import MANIFEST_FILE
from pipeline.registry import Provenance, RegistryEntry, ServiceStatus

INTENT_SUFFIXES = (".yaml", ".yml")
STRAY_DETAIL = "{s.name} {s.version} runs as {s.handle:.12} but no deployment record knows it"


class DriftKind(StrEnum):
    MISSING = "missing"  # an intent wants it; nothing runs: deploy
    OUTDATED = "outdated"  # another version runs: deploy the wanted one
    UNWANTED = "unwanted"  # runs or is registered, and no intent wants it: undeploy
    STRAY = "stray"  # a container of ours that no deployment record knows: remove it
    NOT_BUILT = "not-built"  # an intent wants it but its service folder is missing: report only
    INVALID = "invalid"  # the intent file does not validate: report only, touch nothing


FIXABLE = (DriftKind.MISSING, DriftKind.OUTDATED, DriftKind.UNWANTED, DriftKind.STRAY)


@dataclass(frozen=True)
class DesiredService:
    name: str
    service_dir: Path
    version: str
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    name: str
    detail: str
    wanted: str = ""
    running: str = ""


@dataclass(frozen=True)
class ReconcileReport:
    drift: list[Drift]
    results: list[DeployResult | UndeployResult]

    @property
    def in_sync(self) -> bool:
        return not any(d.kind in FIXABLE for d in self.drift)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def desired_from_checkout(
    root: Path, *, version: str, intents_dir: str = "intents", services_dir: str = "services"
) -> tuple[list[DesiredService], list[Drift]]:
    """The services a checkout of the default branch (at commit `version`) asks for, and what is wrong."""
    desired: list[DesiredService] = []
    problems: list[Drift] = []
    folder = root / intents_dir
    paths = sorted(p for p in folder.rglob("*") if p.suffix in INTENT_SUFFIXES) if folder.is_dir() else []
    for path in paths:
        relative = path.relative_to(root).as_posix()
        try:
            intent = load_intent_file(path, display=relative)
        except InvalidIntent as exc:
            problems.append(Drift(DriftKind.INVALID, path.stem, "; ".join(str(p) for p in exc.problems)))
            continue
        service_dir = root / services_dir / intent.service_name
        if not (service_dir / MANIFEST_FILE).is_file():
            detail = f"{relative} wants it but {service_dir.relative_to(root)}/{MANIFEST_FILE} does not exist"
            problems.append(Drift(DriftKind.NOT_BUILT, intent.service_name, detail))
            continue
        provenance = Provenance(intent_path=relative, commit_sha=version)
        desired.append(DesiredService(intent.service_name, service_dir, version, provenance))
    return desired, problems


def plan_drift(
    desired: Sequence[DesiredService],
    running: Iterable[Instance],
    entries: Iterable[RegistryEntry],
    *,
    backend: Backend | None = None,
) -> list[Drift]:
    """What differs between the wanted and the actual set, one item per service, sorted by name.

    With `backend`, a service running the wanted version on another backend is outdated too: deploying it
    here replaces it there."""
    live: dict[str, Instance] = {}
    for seen in running:  # the deployer's own backend comes first and wins
        live.setdefault(seen.name, seen)
    registered = {e.name for e in entries if e.status is not ServiceStatus.GONE}
    wanted = {d.name: d for d in desired}
    drift: list[Drift] = []
    for name, want in wanted.items():
        instance = live.get(name)
        if instance is None:
            drift.append(Drift(DriftKind.MISSING, name, f"{name} is not running", wanted=want.version))
        elif instance.version != want.version:
            detail = f"{name} runs {instance.version}, the default branch wants {want.version}"
            drift.append(Drift(DriftKind.OUTDATED, name, detail, want.version, instance.version))
        elif backend is not None and instance.backend is not backend:
            detail = f"{name} runs on {instance.backend}, this deployer uses {backend}"
            drift.append(Drift(DriftKind.OUTDATED, name, detail, want.version, instance.version))
    for name in sorted((live.keys() | registered) - wanted.keys()):
        running_version = live[name].version if name in live else ""
        drift.append(Drift(DriftKind.UNWANTED, name, f"no intent wants {name}", running=running_version))
    return sorted(drift, key=lambda d: (d.name, d.kind))


def reconcile(
    desired: Sequence[DesiredService], deployer: Deployer, *, apply: bool = True
) -> ReconcileReport:
    """Report drift and, when `apply`, fix it: deploy what is missing or outdated, undeploy the unwanted."""
    strays = deployer.strays()
    backend = deployer.runtime.backend
    drift = plan_drift(desired, deployer.running(), deployer.registry.entries(), backend=backend)
    drift += [Drift(DriftKind.STRAY, s.name, STRAY_DETAIL.format(s=s), running=s.version) for s in strays]
    results: list[DeployResult | UndeployResult] = []
    if apply:
        for stray in strays:
            deployer.runtime.stop(stray)
        wanted = {d.name: d for d in desired}
        for item in drift:
            if item.kind in (DriftKind.MISSING, DriftKind.OUTDATED):
                want = wanted[item.name]
                results.append(
                    deployer.deploy(DeployRequest(want.service_dir, want.version, want.provenance))
                )
            elif item.kind is DriftKind.UNWANTED:
                results.append(deployer.undeploy(item.name))
    return ReconcileReport(drift, results)
