"""Attacks on the Kubernetes manifests the line writes into a folder Argo CD or Flux applies:

- a secret's value committed to the deploy repository (every token is a Secret reference, never a value);
- a service name that climbs out of the manifests folder (`../`), to overwrite what else the repository holds;
- an intent named like an application the team manages by hand, to replace or delete its manifests;
- YAML smuggled through a SPEC field (a health path with a newline and a second document) to add objects.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from pipeline.deploy.gitops import ManifestFolder, ManifestFolderError
from pipeline.deploy.kubernetes import KubeService, ManifestOptions, from_intent, manifest_documents
from pipeline.intents import load_intent_file

SHA = "c" * 40
SECRET_VARIABLES = {"REGISTRY_URL", "REGISTRY_TOKEN", "STAGE_TOKEN", "HISTORY_URL", "HISTORY_TOKEN"}


def test_every_token_is_a_secret_reference_never_a_value(examples_dir: Path) -> None:
    seen: set[str] = set()
    for path in sorted((examples_dir / "intents").glob("*.yaml")):
        service = from_intent(load_intent_file(path), tag=SHA)
        pod = manifest_documents(service, ManifestOptions())["deployment.yaml"]["spec"]["template"]["spec"]
        for variable in pod["containers"][0]["env"]:
            if variable["name"] in SECRET_VARIABLES:
                seen.add(variable["name"])
                assert "value" not in variable and "secretKeyRef" in variable["valueFrom"], variable
    assert seen == SECRET_VARIABLES  # the stage and the history examples included


@pytest.mark.parametrize("name", ["../escape", "a/b", ".."])
def test_a_name_cannot_climb_out_of_the_manifests_folder(tmp_path: Path, name: str) -> None:
    folder = ManifestFolder(tmp_path / "gitops")
    with pytest.raises(ValueError):
        folder.write(KubeService(name=name, tag=SHA))
    with pytest.raises(ValueError):
        folder.remove(name)
    assert not (tmp_path / "escape").exists() and not (tmp_path / "gitops").exists()


def test_manifests_the_line_did_not_write_are_never_replaced_or_removed(tmp_path: Path) -> None:
    handmade = tmp_path / "gitops" / "postgres"
    handmade.mkdir(parents=True)
    (handmade / "deployment.yaml").write_text("# the team's own\n", encoding="utf-8")
    folder = ManifestFolder(tmp_path / "gitops")

    with pytest.raises(ManifestFolderError, match="not written by IntentOps"):
        folder.write(KubeService(name="postgres", tag=SHA))
    assert folder.remove("postgres") is False
    assert (handmade / "deployment.yaml").read_text(encoding="utf-8") == "# the team's own\n"
    assert sorted(p.name for p in (tmp_path / "gitops").iterdir()) == ["postgres"]  # no staging left over


def test_yaml_in_a_spec_field_stays_a_string(example_services: dict[str, Path], tmp_path: Path) -> None:
    service_dir = tmp_path / "hello-world"
    shutil.copytree(example_services["hello-world"], service_dir)
    smuggled = "/health\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: owned}"
    manifest = (service_dir / "service.yaml").read_text(encoding="utf-8")
    (service_dir / "service.yaml").write_text(
        manifest.replace("health_path: /health", f"health_path: {json.dumps(smuggled)}"), encoding="utf-8"
    )
    written = ManifestFolder(tmp_path / "gitops").write_from(service_dir, tag=SHA)

    for path in written.glob("*.yaml"):
        documents = list(YAML(typ="safe").load_all(path.read_text(encoding="utf-8")))
        assert len(documents) == 1 and documents[0]["kind"] != "Namespace", path
    deployment = YAML(typ="safe").load((written / "deployment.yaml").read_text(encoding="utf-8"))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["path"] == smuggled
