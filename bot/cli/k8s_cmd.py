"""`intentops k8s render`: the Kubernetes manifests the line writes for a service, printed or written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from bot.cli.output import fail, out
from bot.settings import Settings
from pipeline.deploy.gitops import ManifestFolder, ManifestFolderError
from pipeline.deploy.kubernetes import (
    KubeService,
    ManifestOptions,
    from_intent,
    from_service_dir,
    render_manifests,
)
from pipeline.intents import InvalidIntent, load_intent_file
from pipeline.manifest import MANIFEST_FILE

SERVICES_DIR = "services"
INTENTS_DIR = "intents"
NOT_FOUND = (
    "{target}: no intent file, service folder (with service.yaml) or service of that name here "
    "(looked for services/{target}/ and intents/{target}.yaml)"
)
NEEDS_TAG = (
    "{path}: {name} is not built yet (no services/{name}/ beside intents/): give the image tag with --tag "
    "(the line tags an image with its merge commit SHA)"
)
BAD_SERVICE = "{path}: not a generated service: {error}"
WRITTEN = "{name}: manifests written to {path}"

HELP = (
    "Kubernetes manifests for Argo CD or Flux: print (or write) the Deployment, Service, data claim and "
    "kustomization the line writes for a service."
)
app = typer.Typer(help=HELP, no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="k8s")


@app.command("render")
def render(
    target: Annotated[
        str,
        typer.Argument(
            metavar="INTENT_OR_SERVICE",
            help="An intent file, a generated service folder, or a service name (looked up under services/ "
            "and intents/ here)",
        ),
    ],
    tag: Annotated[
        str | None,
        typer.Option(help="The image tag (default: a built service's version; the line deploys merge SHAs)"),
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Default: INTENTOPS_K8S_NAMESPACE")] = None,
    image_prefix: Annotated[str | None, typer.Option(help="Default: INTENTOPS_K8S_IMAGE_PREFIX")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write <service>/*.yaml under this folder instead of printing them (never committed)",
        ),
    ] = None,
) -> None:
    """Print the Kubernetes manifests (Deployment, Service, PersistentVolumeClaim, kustomization) the line
    writes for a service when INTENTOPS_K8S_MANIFESTS is set."""
    options = _options(namespace=namespace, image_prefix=image_prefix)
    service = _service(target, tag=tag or "")
    if out_dir is not None:
        try:
            path = ManifestFolder(out_dir, options, publish=False).write(service)
        except ManifestFolderError as exc:
            fail(escape(str(exc)))
        out.print(escape(WRITTEN.format(name=service.name, path=path)))
        return
    documents = render_manifests(service, options)
    text = "---\n".join(f"# {name}\n{body}" for name, body in documents.items())
    typer.echo(text, nl=False)


def _options(*, namespace: str | None, image_prefix: str | None) -> ManifestOptions:
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(escape(f"configuration: {exc.errors()[0]['msg']}"))
    return ManifestOptions(
        namespace=settings.k8s_namespace if namespace is None else namespace,
        image_prefix=settings.k8s_image_prefix if image_prefix is None else image_prefix,
        storage_size=settings.k8s_storage,
    )


def _service(target: str, *, tag: str) -> KubeService:
    path = Path(target)
    if not path.exists():
        path = _by_name(target)
    if path.is_dir():
        return _from_folder(path, tag=tag)
    try:
        intent = load_intent_file(path)
    except InvalidIntent as exc:
        fail(escape(str(exc.first)))
    built = path.parent.parent / SERVICES_DIR / intent.service_name
    if path.parent.name == INTENTS_DIR and (built / MANIFEST_FILE).is_file():
        return _from_folder(built, tag=tag)
    if not tag:
        fail(escape(NEEDS_TAG.format(path=path, name=intent.service_name)))
    return from_intent(intent, tag=tag, intent_path=f"{INTENTS_DIR}/{path.name}")


def _by_name(name: str) -> Path:
    for candidate in (Path(SERVICES_DIR) / name, Path(INTENTS_DIR) / f"{name}.yaml"):
        if candidate.exists():
            return candidate
    fail(escape(NOT_FOUND.format(target=name)))


def _from_folder(folder: Path, *, tag: str) -> KubeService:
    try:
        return from_service_dir(folder, tag=tag)
    except (OSError, ValidationError, ValueError) as exc:
        fail(escape(BAD_SERVICE.format(path=folder, error=_first_line(exc))))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
