"""The factory's stages served over HTTP (the edge of `pipeline.factory`): each alone on its seed port, or
all together on the sovereign-factory's (8210), with the routing of the line's own stages configured."""

from bot.stages.app import create_stage_app
from bot.stages.config import stage_registry

__all__ = ["create_stage_app", "stage_registry"]
