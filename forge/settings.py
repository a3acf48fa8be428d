"""The forge's own settings: where it keeps its data and where it listens. Read once, passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ForgeSettings(BaseSettings):
    """Configuration of `intentops forge serve`; build it with `ForgeSettings()` at start-up only."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    data_dir: Path = Field(default=Path(".data/forge"), alias="INTENTOPS_FORGE_DIR")
    host: str = Field(default="127.0.0.1", alias="INTENTOPS_FORGE_HOST")
    port: int = Field(default=3000, alias="INTENTOPS_FORGE_PORT")
    # Largest JSON body the REST API accepts (GitHub answers 413 beyond its own limits).
    max_api_body_bytes: int = Field(default=8 * 1024 * 1024, alias="INTENTOPS_FORGE_MAX_API_BODY")
    # Seconds a webhook receiver gets to answer before the delivery is recorded as failed.
    hook_timeout_s: float = Field(default=10.0, alias="INTENTOPS_FORGE_HOOK_TIMEOUT")
