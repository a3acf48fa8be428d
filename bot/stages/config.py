"""The line's stage routing from its settings (INTENTOPS_STAGES, _STAGE_TOKEN and _STAGE_TIMEOUT)."""

from __future__ import annotations

from bot.settings import Settings
from pipeline.factory.routing import StageRegistry


def stage_registry(settings: Settings) -> StageRegistry:
    """Which implementation answers each stage. Raises StageConfigError naming the stage and the problem."""
    return StageRegistry.from_config(
        settings.stages, token=settings.stage_token, timeout_s=settings.stage_timeout_seconds
    )
