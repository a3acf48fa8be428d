"""Code generation: a Spec becomes a FastAPI service folder (code, tests, Dockerfile, manifest, SPEC).

The offline path renders templates/service/ only. The output is run through the ruff formatter when it
is installed, so the generated code reads like hand-formatted code; the templates produce valid code
without it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.codegen import context
from pipeline.manifest import MANIFEST_FILE, ServiceManifest
from pipeline.spec.model import Spec
from pipeline.spec.offline import BODY_LIMIT_KIB, LIST_LIMIT
from pipeline.spec.render import SPEC_JSON, SPEC_MARKDOWN, jinja_environment, write_spec
from pipeline.wheelhouse import service_requirements

GENERATED_DIRS = ("app", "tests")
TEMPLATES = {
    "app/__init__.py.j2": "app/__init__.py",
    "app/__main__.py.j2": "app/__main__.py",
    "app/behaviours.py.j2": "app/behaviours.py",
    "app/config.py.j2": "app/config.py",
    "app/main.py.j2": "app/main.py",
    "app/metrics.py.j2": "app/metrics.py",
    "app/models.py.j2": "app/models.py",
    "app/registration.py.j2": "app/registration.py",
    "app/routes.py.j2": "app/routes.py",
    "app/storage.py.j2": "app/storage.py",
    "tests/conftest.py.j2": "tests/conftest.py",
    "tests/test_acceptance.py.j2": "tests/test_acceptance.py",
    "requirements.txt.j2": "requirements.txt",
    "requirements-test.txt.j2": "requirements-test.txt",
    "Dockerfile.j2": "Dockerfile",
    "dockerignore.j2": ".dockerignore",
    "pyproject.toml.j2": "pyproject.toml",
    "README.md.j2": "README.md",
}
TESTS_DIR = "tests"
REQUIREMENTS_TEST = "requirements-test.txt"
FORMAT_TIMEOUT_S = 60
SERVICE_UID = 10001
"""The unprivileged user (and group) generated containers run as; it owns only the data volume."""


@dataclass(frozen=True)
class GeneratedService:
    directory: Path
    manifest: ServiceManifest
    files: tuple[str, ...]
    formatted: bool


def generate_service(spec: Spec, directory: Path, *, intent_path: str = "") -> GeneratedService:
    """Write the service for `spec` into `directory` (created, or a previously generated one replaced)."""
    prepare_folder(directory)
    render_templates(directory, "service", TEMPLATES, template_values(spec))
    return finish_service(spec, directory, intent_path=intent_path, storage=spec.data_model.storage.value)


def render_templates(
    directory: Path, folder: str, templates: Mapping[str, str], values: Mapping[str, object]
) -> None:
    """Render each of `templates` (template in templates/<folder> -> path in `directory`) with `values`."""
    environment = jinja_environment(folder)
    for template, target in templates.items():
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(environment.get_template(template).render(**values), encoding="utf-8")


def finish_service(
    spec: Spec, directory: Path, *, intent_path: str = "", storage: str | None = None
) -> GeneratedService:
    """What every generator ends with: the SPEC beside the code, the manifest (`storage` when the service
    keeps data), the formatter's pass and the list of files."""
    write_spec(spec, directory)
    manifest = ServiceManifest(
        name=spec.service_name,
        version=spec.content_hash(),
        port=spec.deployment.port,
        health_path=spec.deployment.health_path,
        spec_hash=spec.content_hash(),
        intent_path=intent_path or spec.intent_path,
        **({"storage": storage} if storage is not None else {}),
    )
    manifest.dump(directory)
    formatted = format_python(directory)
    files = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
    return GeneratedService(directory=directory, manifest=manifest, files=tuple(files), formatted=formatted)


def template_values(spec: Spec) -> dict[str, object]:
    endpoints = [context.endpoint_context(ep, spec) for ep in context.service_endpoints(spec)]
    entities = [context.entity_context(e) for e in spec.data_model.entities]
    scenarios = [context.scenario(ac, spec) for ac in spec.acceptance_criteria]
    checks = {s["check"] for s in scenarios}
    config_imports = ["SERVICE_NAME"] if "health_ok" in checks or {"registers"} & checks else []
    if checks & {"registers", "registry_down", "persist", "seeded"}:
        config_imports.append("ServiceConfig")
    uses_alias = any(f["attr"] != f["name"] for e in entities for f in e["fields"])
    return {
        "spec": spec,
        "spec_hash": spec.content_hash(),
        "entities": entities,
        "uses_alias": uses_alias,
        "endpoints": endpoints,
        "plans": context.route_plans(spec),
        "imports": context.route_imports(endpoints),
        "scenarios": scenarios,
        "checks": checks,
        "config_imports": config_imports,
        "samples": context.samples(spec),
        "relations": repr(storage_relations(spec)),
        "parents": repr(storage_parents(spec)),
        "seed": repr(seed_rows(spec)),
        "health_path": spec.deployment.health_path,
        "uid": SERVICE_UID,
        "list_limit": LIST_LIMIT,
        "body_limit_bytes": BODY_LIMIT_KIB * 1024,
        "requirements": service_requirements().rstrip("\n"),
        "test_requirements": service_requirements(with_tests=True).rstrip("\n"),
    }


def storage_relations(spec: Spec) -> dict[str, tuple[tuple[str, str, str], ...]]:
    """Parent resource -> (child, link field, on_delete) of every relation in the data model."""
    relations: dict[str, tuple[tuple[str, str, str], ...]] = {}
    for entity in spec.data_model.entities:
        for relation in entity.relations:
            link = (entity.name, relation.field, relation.on_delete.value)
            relations[relation.parent] = (*relations.get(relation.parent, ()), link)
    return relations


def storage_parents(spec: Spec) -> dict[str, tuple[tuple[str, str], ...]]:
    return {
        entity.name: tuple((r.parent, r.field) for r in entity.relations)
        for entity in spec.data_model.entities
        if entity.relations
    }


def seed_rows(spec: Spec) -> tuple[tuple[str, dict[str, object]], ...]:
    """Every entity's seed rows, parents' before their children's (a child's seed names parent ids)."""
    done: list[str] = []
    entities = {e.name: e for e in spec.data_model.entities}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name in path or name not in entities:
            return
        for relation in entities[name].relations:
            visit(relation.parent, (*path, name))
        done.append(name)

    for name in entities:
        visit(name, ())
    return tuple((name, dict(row)) for name in done for row in entities[name].seed)


def prepare_folder(directory: Path) -> None:
    """Refuse to write over a folder the line did not generate; clear the generated parts of one it did."""
    if directory.exists() and any(directory.iterdir()):
        only_the_spec = {p.name for p in directory.iterdir()} <= {SPEC_MARKDOWN, SPEC_JSON}
        if not only_the_spec and not (directory / MANIFEST_FILE).is_file():
            raise context.CodegenError(
                f"{directory} is not empty and holds no {MANIFEST_FILE}; refusing to write over it"
            )
        for name in GENERATED_DIRS:
            shutil.rmtree(directory / name, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def ruff_executable() -> str | None:
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.is_file() else shutil.which("ruff")


def format_python(directory: Path) -> bool:
    """Format the generated Python with ruff when it is installed; False when it is not."""
    ruff = ruff_executable()
    if ruff is None:
        return False
    result = subprocess.run(
        [ruff, "format", "--quiet", "--no-cache", str(directory)],
        capture_output=True,
        text=True,
        timeout=FORMAT_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise context.CodegenError(f"the generated code does not parse: {result.stderr.strip()[:2000]}")
    return True
