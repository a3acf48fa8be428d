"""Kubernetes manifests, the GitOps way: every example validates offline against the Kubernetes schemas
(kubernetes-validate), the pod runs unprivileged with probes and the SPEC's resources, secrets are only
referenced, a healthy deploy writes the manifests and an undeploy removes them, and `intentops k8s render`
prints them. Applying them to a cluster is not tested here."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from bot.cli.main import build_app
from pipeline.codegen.generator import SERVICE_UID
from pipeline.deploy import Backend, DeploymentRecords, LocalProcessRuntime, WheelhouseVenvs
from pipeline.deploy.deployer import DeployerConfig
from pipeline.deploy.gitops import MARKER, ManifestExportingDeployer, ManifestFolder
from pipeline.deploy.kubernetes import (
    MANIFEST_FILES,
    RESOURCE_FILES,
    KubeService,
    ManifestOptions,
    from_intent,
    from_service_dir,
    manifest_documents,
)
from pipeline.deploy.model import DeployOutcome, DeployRequest, UndeployOutcome
from pipeline.deploy.wiring import DeploySetup, build_deployer
from pipeline.intents import load_intent_file
from pipeline.registry import RegistryStore
from pipeline.state import Database
from tests.deploy.conftest import REGISTRY_TOKEN, MakeService

SHA = "0123456789abcdef0123456789abcdef01234567"
KUBERNETES = "1.37.0"  # the newest Kubernetes whose schemas kubernetes-validate 1.37 ships
OPTIONS = ManifestOptions(namespace="services", image_prefix="registry.example.com/team")
KINDS = {
    "deployment.yaml": "Deployment",
    "service.yaml": "Service",
    "persistentvolumeclaim.yaml": "PersistentVolumeClaim",
}


def _validate(service: KubeService) -> dict[str, dict[str, Any]]:
    documents = manifest_documents(service, OPTIONS)
    for name in RESOURCE_FILES:
        assert documents[name]["kind"] == KINDS[name]
        # Strict: a misspelt or unknown field is an error, as the API server's strict field validation says.
        kubernetes_validate.validate(documents[name], KUBERNETES, strict=True)
    assert documents["kustomization.yaml"]["resources"] == list(RESOURCE_FILES)
    assert documents["kustomization.yaml"]["namespace"] == "services"
    return documents


def test_every_example_validates_against_the_kubernetes_schemas(
    examples_dir: Path, example_services: dict[str, Path]
) -> None:
    intents = sorted((examples_dir / "intents").glob("*.yaml"))
    assert len(intents) >= 9
    for path in intents:  # as `k8s render` renders an intent not built yet
        _validate(from_intent(load_intent_file(path), tag=SHA, intent_path=f"intents/{path.name}"))
    for folder in example_services.values():  # as the line writes them after a deploy
        _validate(from_service_dir(folder, tag=SHA))


def _container(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pod = documents["deployment.yaml"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


@pytest.fixture
def hello_world(example_services: dict[str, Path], tmp_path: Path) -> Path:
    """hello-world as generated, its SPEC asking for a quarter CPU, 384 MiB and three replicas."""
    folder = tmp_path / "hello-world"
    shutil.copytree(example_services["hello-world"], folder)
    spec = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
    spec["deployment"].update(cpu=0.25, memory_mb=384, replicas=3)
    (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    return folder


def test_the_pod_runs_unprivileged_with_probes_and_the_spec_resources(hello_world: Path) -> None:
    documents = _validate(from_service_dir(hello_world, tag=SHA))
    deployment = documents["deployment.yaml"]
    pod = deployment["spec"]["template"]["spec"]
    container = _container(documents)

    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == f"registry.example.com/team/hello-world:{SHA}"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "384Mi"}
    assert container["resources"]["limits"] == {"cpu": "250m", "memory": "384Mi"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == SERVICE_UID
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"] == "hello-world-data"
    assert documents["persistentvolumeclaim.yaml"]["metadata"]["name"] == "hello-world-data"
    env = _env(container)
    assert env["DATA_DIR"] == "/data"
    assert env["SERVICE_VERSION"] == SHA
    assert env["REGISTRY_URL"] == {"secretKeyRef": {"name": "intentops-registry", "key": "url"}}
    assert env["REGISTRY_TOKEN"] == {"secretKeyRef": {"name": "intentops-registry", "key": "token"}}
    assert "STAGE_TOKEN" not in env and "HISTORY_TOKEN" not in env


def test_sqlite_services_run_one_pod_replaced_not_rolled(example_services: dict[str, Path]) -> None:
    """Two pods writing one SQLite file would corrupt it: the old pod stops before the new one starts."""
    spec = from_service_dir(example_services["todo"], tag=SHA)
    assert spec.storage == "sqlite"
    deployment = _validate(replace(spec, replicas=4))["deployment.yaml"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_stage_and_history_tokens_come_from_secrets(examples_dir: Path) -> None:
    def env_of(name: str) -> dict[str, Any]:
        intent = load_intent_file(examples_dir / "intents" / f"{name}.yaml")
        return _env(_container(manifest_documents(from_intent(intent, tag=SHA), OPTIONS)))

    stage = env_of("spec-builder-v2")
    assert stage["STAGE_TOKEN"] == {"secretKeyRef": {"name": "intentops-stage", "key": "token"}}
    analyzer = env_of("spec-analyzer")
    assert analyzer["HISTORY_URL"] == {"secretKeyRef": {"name": "intentops-history", "key": "url"}}
    assert analyzer["HISTORY_TOKEN"] == {"secretKeyRef": {"name": "intentops-history", "key": "token"}}
    assert "STAGE_TOKEN" not in analyzer


@pytest.fixture
def exporting(
    database: Database, registry: RegistryStore, venvs: WheelhouseVenvs, tmp_path: Path, registry_url: str
) -> Iterator[ManifestExportingDeployer]:
    config = DeployerConfig(
        data_dir=tmp_path / "service-data",
        registry_url=registry_url,
        registry_token=REGISTRY_TOKEN,
        heartbeat_seconds=0.5,
        health_timeout=20,
        drain_seconds=0.1,
    )
    built = ManifestExportingDeployer(
        LocalProcessRuntime(venvs, tmp_path / "logs"),
        DeploymentRecords(database, Backend.LOCAL),
        registry,
        config,
        manifests=ManifestFolder(tmp_path / "gitops", OPTIONS),
    )
    yield built
    for instance in built.records.all():
        built.runtime.stop(instance)


def test_a_healthy_deploy_writes_the_manifests_and_undeploy_removes_them(
    exporting: ManifestExportingDeployer, make_service: MakeService, tmp_path: Path
) -> None:
    folder = tmp_path / "gitops" / "hello-fixture"
    first = exporting.deploy(DeployRequest(make_service("v1"), "a" * 40))
    assert first.outcome is DeployOutcome.DEPLOYED, first.message
    assert f"Kubernetes manifests written to {folder}" in first.message
    assert sorted(p.name for p in folder.iterdir()) == sorted([*MANIFEST_FILES, MARKER])
    deployment = YAML(typ="safe").load((folder / "deployment.yaml").read_text(encoding="utf-8"))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":" + "a" * 40)
    for path in folder.iterdir():  # the registry's token is configured, and never written
        assert REGISTRY_TOKEN not in path.read_text(encoding="utf-8")

    failed = exporting.deploy(DeployRequest(make_service("v2", crash=True), "b" * 40))
    assert failed.outcome is DeployOutcome.FAILED
    assert exporting.manifests.version("hello-fixture") == "a" * 40  # the last good version stays

    gone = exporting.undeploy("hello-fixture")
    assert gone.outcome is UndeployOutcome.REMOVED
    assert "Kubernetes manifests removed" in gone.message
    assert not folder.exists()


def test_the_setting_turns_the_export_on(database: Database, registry: RegistryStore, tmp_path: Path) -> None:
    setup = DeploySetup(data_dir=tmp_path, registry_url="", registry_token="", k8s_manifests=tmp_path / "k8s")
    assert isinstance(build_deployer(Backend.LOCAL, setup, database, registry), ManifestExportingDeployer)
    plain = DeploySetup(data_dir=tmp_path, registry_url="", registry_token="")
    assert not isinstance(build_deployer(Backend.LOCAL, plain, database, registry), ManifestExportingDeployer)


def test_k8s_render_prints_a_built_service_and_asks_a_tag_for_an_intent(
    examples_dir: Path, example_services: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _git("init", "--quiet", tmp_path)  # a checkout: `render --out` writes files and commits nothing
    (tmp_path / "intents").mkdir()
    shutil.copy(examples_dir / "intents" / "links.yaml", tmp_path / "intents")
    shutil.copy(examples_dir / "intents" / "todo.yaml", tmp_path / "intents")
    shutil.copytree(example_services["todo"], tmp_path / "services" / "todo")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INTENTOPS_K8S_NAMESPACE", "apps")
    runner = CliRunner()
    app = build_app()

    built = runner.invoke(app, ["k8s", "render", "todo"])
    assert built.exit_code == 0, built.output
    version = from_service_dir(tmp_path / "services" / "todo").tag
    assert f"image: todo:{version}" in built.output
    assert "# kustomization.yaml" in built.output and "namespace: apps" in built.output
    assert "&" not in built.output  # plain YAML: no anchors and aliases for a reader to resolve

    unbuilt = runner.invoke(app, ["k8s", "render", "intents/links.yaml"])
    assert unbuilt.exit_code == 1
    assert "links is not built yet" in unbuilt.output and "--tag" in unbuilt.output

    written = runner.invoke(app, ["k8s", "render", "links", "--tag", SHA, "--out", "deploy"])
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in (tmp_path / "deploy" / "links").glob("*.yaml")) == sorted(MANIFEST_FILES)
    assert "?? deploy/" in _git("-C", tmp_path, "status", "--porcelain").splitlines()


def _git(*args: str | Path) -> str:
    return subprocess.run(["git", *map(str, args)], check=True, capture_output=True, text=True).stdout


def test_in_a_deploy_repository_each_change_is_committed_and_pushed(tmp_path: Path) -> None:
    """Another host pushed first: the change is rebased onto it and pushed, and nothing of its is lost."""
    remote, mine, theirs = tmp_path / "deploy.git", tmp_path / "mine", tmp_path / "theirs"
    _git("init", "--quiet", "--bare", "--initial-branch=main", remote)
    _git("clone", "--quiet", remote, theirs)
    identity = ["-c", "user.name=ops", "-c", "user.email=ops@example.com"]
    _git("-C", theirs, *identity, "commit", "--quiet", "--allow-empty", "-m", "start")
    _git("-C", theirs, "push", "--quiet", "origin", "main")
    _git("clone", "--quiet", remote, mine)
    (theirs / "README.md").write_text("deploy repository\n", encoding="utf-8")
    _git("-C", theirs, "add", "README.md")
    _git("-C", theirs, *identity, "commit", "--quiet", "-m", "their change")
    _git("-C", theirs, "push", "--quiet", "origin", "main")
    folder = ManifestFolder(mine / "clusters" / "prod", OPTIONS)

    folder.write(KubeService(name="notes", tag=SHA))
    assert _git("-C", remote, "log", "--format=%s", "main").split("\n")[:3] == [
        f"notes: deploy {SHA}",
        "their change",
        "start",
    ]
    pushed = _git("-C", remote, "ls-tree", "-r", "--name-only", "main").split()
    assert sorted(pushed) == sorted(
        ["README.md", "clusters/prod/notes/.intentops"] + [f"clusters/prod/notes/{f}" for f in MANIFEST_FILES]
    )

    assert folder.remove("notes") is True
    assert _git("-C", remote, "log", "-1", "--format=%s", "main").strip() == "notes: undeploy"
    assert _git("-C", remote, "ls-tree", "-r", "--name-only", "main").split() == ["README.md"]
