"""The deploy settings (`INTENTOPS_DEPLOY_*`, Docker, Kubernetes export, Swarm) as the deployers take them,
for the bot's merge handler and the CLI's deploy commands alike."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from pipeline.deploy.kubernetes import ManifestOptions
from pipeline.deploy.swarm import SwarmOptions
from pipeline.deploy.wiring import DeploySetup
from pipeline.registry import load_or_create_token


def deploy_setup(
    settings: Settings, *, data_dir: Path, registry_url: str, stage_token: str = "", history_url: str = ""
) -> DeploySetup:
    """`settings`' deploy options for the installation in `data_dir`, whose services register at
    `registry_url`; stage services get `stage_token`, services reading the line's history `history_url`."""
    return DeploySetup(
        data_dir=data_dir,
        registry_url=registry_url,
        registry_token=load_or_create_token(data_dir, settings.registry_token).get_secret_value(),
        health_timeout=settings.deploy_health_timeout_seconds,
        registry_ttl=settings.registry_ttl_seconds,
        base_image=settings.docker_base_image,
        keep_images=settings.docker_keep_images,
        stage_token=stage_token,
        history_url=history_url,
        k8s_manifests=settings.k8s_manifests,
        k8s=ManifestOptions(
            namespace=settings.k8s_namespace,
            image_prefix=settings.k8s_image_prefix,
            storage_size=settings.k8s_storage,
        ),
        swarm=SwarmOptions(image_prefix=settings.swarm_image_prefix),
    )
