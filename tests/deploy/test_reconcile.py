"""Reconciliation against a checkout of the default branch: start what is missing, stop the unwanted."""

from __future__ import annotations

from pathlib import Path

from pipeline.deploy import Backend, Deployer, DeployRequest, Instance
from pipeline.deploy.reconcile import DesiredService, DriftKind, desired_from_checkout, plan_drift, reconcile
from pipeline.registry import RegistryStore, ServiceStatus
from tests.deploy.conftest import MakeService

MERGE_SHA = "d" * 40
OLD_SHA = "e" * 40
INTENT = "service_name: {name}\npurpose: A service the reconciler should keep running for the tests.\n"


def _checkout(root: Path, make_service: MakeService, names: list[str]) -> Path:
    (root / "intents").mkdir(parents=True)
    for name in names:
        (root / "intents" / f"{name}.yaml").write_text(INTENT.format(name=name))
        make_service(name, name=name, root=root / "services")
    return root


def test_drift_is_reported_then_fixed(
    deployer: Deployer, registry: RegistryStore, make_service: MakeService, tmp_path: Path
) -> None:
    checkout = _checkout(tmp_path / "checkout", make_service, ["alpha", "beta"])
    (checkout / "intents" / "gamma.yaml").write_text(INTENT.format(name="gamma"))  # wanted, never built
    (checkout / "intents" / "broken.yaml").write_text("service_name: Not A Label\n")
    assert deployer.deploy(DeployRequest(make_service("old-beta", name="beta"), OLD_SHA)).ok
    assert deployer.deploy(DeployRequest(make_service("stray", name="stray"), OLD_SHA)).ok

    desired, problems = desired_from_checkout(checkout, version=MERGE_SHA)
    report = reconcile(desired, deployer)

    assert {(d.kind, d.name) for d in report.drift} == {
        (DriftKind.MISSING, "alpha"),
        (DriftKind.OUTDATED, "beta"),
        (DriftKind.UNWANTED, "stray"),
    }
    assert {(p.kind, p.name) for p in problems} == {
        (DriftKind.NOT_BUILT, "gamma"),
        (DriftKind.INVALID, "broken"),
    }
    assert "broken.yaml:1" in next(p.detail for p in problems if p.kind is DriftKind.INVALID)
    assert report.ok
    assert {(i.name, i.version) for i in deployer.running()} == {("alpha", MERGE_SHA), ("beta", MERGE_SHA)}
    assert registry.get("stray").status is ServiceStatus.GONE  # type: ignore[union-attr]
    alpha = registry.get("alpha")
    assert alpha is not None and alpha.provenance.intent_path == "intents/alpha.yaml"
    assert alpha.provenance.commit_sha == MERGE_SHA

    again = reconcile(desired, deployer)

    assert again.in_sync and again.results == []


def test_dry_run_reports_without_touching_anything(
    deployer: Deployer, make_service: MakeService, tmp_path: Path
) -> None:
    desired, _ = desired_from_checkout(
        _checkout(tmp_path / "checkout", make_service, ["alpha"]), version=MERGE_SHA
    )

    report = reconcile(desired, deployer, apply=False)

    assert [(d.kind, d.name) for d in report.drift] == [(DriftKind.MISSING, "alpha")]
    assert report.results == [] and deployer.running() == []


def test_a_registry_entry_nobody_runs_or_wants_is_unwanted(registry: RegistryStore) -> None:
    registry.register(name="ghost", version="v1", url="http://127.0.0.1:9")

    drift = plan_drift([], [], registry.entries())

    assert [(d.kind, d.name) for d in drift] == [(DriftKind.UNWANTED, "ghost")]


def test_a_service_on_the_other_backend_is_drift_for_this_one(tmp_path: Path) -> None:
    wanted = DesiredService("alpha", tmp_path, MERGE_SHA)
    on_docker = Instance(
        "alpha", MERGE_SHA, Backend.DOCKER, "c0ffee", "http://127.0.0.1:9", 9, "/health", tmp_path
    )

    here = plan_drift([wanted], [on_docker], [], backend=Backend.DOCKER)
    elsewhere = plan_drift([wanted], [on_docker], [], backend=Backend.LOCAL)

    assert here == []
    assert [(d.kind, d.detail) for d in elsewhere] == [
        (DriftKind.OUTDATED, "alpha runs on docker, this deployer uses local")
    ]
