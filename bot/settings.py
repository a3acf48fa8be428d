"""The one typed settings class: read once from the environment (prefix-free names) and passed in."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "xxx", "todo"}
TRUSTED_PROXY_INVALID = (
    "INTENTOPS_TRUSTED_PROXIES: {entry!r} is not an IP address or network; name your proxies' addresses "
    "(e.g. 10.0.0.5,10.1.0.0/16), never '*'"
)

PRIVATE_KEY_UNREADABLE = "GITHUB_PRIVATE_KEY_PATH: cannot read the App's private key from {path}: {reason}"
STAGE_ROUTE_INVALID = (
    "INTENTOPS_STAGES: {entry!r} is not STAGE=TARGET (e.g. spec-verifier=http://127.0.0.1:8205 or "
    "spec-verifier=builtin)"
)


class Settings(BaseSettings):
    """Everything configurable. Nothing here is read at import time; build it with `Settings()`."""

    model_config = SettingsConfigDict(
        env_file=None,
        extra="ignore",
        case_sensitive=False,
        use_attribute_docstrings=True,
        env_ignore_empty=True,  # `VAR=` (as compose passes an unset variable) is unset, not an empty value
    )

    environment: str = Field(default="development", alias="INTENTOPS_ENV")
    """`development` (default) or anything else, e.g. `production`: outside development, placeholder
    secrets are refused and the dashboard needs INTENTOPS_DASHBOARD_SECRET."""
    data_dir: Path = Field(default=Path(".data"), alias="INTENTOPS_DATA_DIR")
    """Where the bot keeps its state: the SQLite database (without DATABASE_URL), tokens, deployed
    services, logs and the wheelhouse."""
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    """PostgreSQL for state (`postgresql+psycopg://...`; several bots and workers may share it); unset:
    SQLite under INTENTOPS_DATA_DIR."""

    # Claude; no key means the offline provider.
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    """Use Claude for alignment, specs and code; unset: the offline provider (deterministic, from
    templates)."""
    anthropic_base_url: str | None = Field(default=None, alias="ANTHROPIC_BASE_URL")
    """Another address for the Anthropic API (a proxy or gateway)."""
    anthropic_model: str = Field(default="claude-sonnet-4-6", alias="INTENTOPS_MODEL")
    """The Claude model asked."""
    llm_budget_per_intent_usd: float = Field(default=2.0, alias="INTENTOPS_BUDGET_PER_INTENT_USD")
    """The most one intent may spend on model calls; a call that would pass it is refused."""
    llm_budget_monthly_usd: float = Field(default=100.0, alias="INTENTOPS_BUDGET_MONTHLY_USD")
    """The most all intents together may spend on model calls in a calendar month (UTC)."""

    # GitHub; nothing set means the embedded forge.
    github_token: SecretStr | None = Field(default=None, alias="GITHUB_TOKEN")
    """The bot's token on GitHub (or the forge); unset with no App either: the embedded forge (`intentops
    up`)."""
    github_app_id: int | None = Field(default=None, alias="GITHUB_APP_ID")
    """A GitHub App instead of a token: its id; each event's installation gives the token it is handled
    with."""
    github_private_key: SecretStr | None = Field(default=None, alias="GITHUB_PRIVATE_KEY")
    """The GitHub App's private key (PEM text); or give GITHUB_PRIVATE_KEY_PATH."""
    github_private_key_path: Path | None = Field(default=None, alias="GITHUB_PRIVATE_KEY_PATH")
    """The GitHub App's private key as a PEM file (e.g. a mounted secret), read once at start; for when
    GITHUB_PRIVATE_KEY is unset."""
    github_base_url: str | None = Field(default=None, alias="GITHUB_BASE_URL")
    """The REST API of GitHub Enterprise (`https://HOST/api/v3`, `https://api.NAME.ghe.com`) or of the
    embedded forge (`.../api/v3`); unset: github.com."""
    webhook_secret: SecretStr | None = Field(default=None, alias="INTENTOPS_WEBHOOK_SECRET")
    """The HMAC secret webhooks are signed with (required to serve the bot)."""
    intents_repo: str | None = Field(default=None, alias="INTENTOPS_REPO", pattern=r"^[\w.-]+/[\w.-]+$")
    """The repository `POST /intents/submit` commits to (owner/name)."""
    public_url: str = Field(default="http://127.0.0.1:8214", alias="INTENTOPS_PUBLIC_URL")
    """Where people and generated services reach the bot (status links, the registry, the dashboard)."""
    spec_gate: int = Field(default=90, ge=0, le=100, alias="INTENTOPS_SPEC_GATE")
    """The score (0-100) a SPEC must reach before code is generated."""

    # The bot's webhook intake and job queue.
    bot_login: str | None = Field(default=None, alias="INTENTOPS_BOT_LOGIN")
    """The bot's own account (e.g. `intentops[bot]`); its events are ignored unless a route opts in."""
    webhook_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0, alias="INTENTOPS_WEBHOOK_MAX_BYTES")
    """The largest webhook body accepted; larger ones are answered 413."""
    # Jobs wait on the forge and the sandbox most of their time: four keep two cores busy.
    worker_threads: int = Field(default=4, ge=0, alias="INTENTOPS_WORKER_THREADS")
    """Worker threads in the bot's own process (0: none; `intentops worker` runs more elsewhere)."""
    job_lease_seconds: float = Field(default=60.0, gt=0, alias="INTENTOPS_JOB_LEASE_SECONDS")
    """How long a claimed job is held without renewal before another worker takes it over."""
    job_max_attempts: int = Field(default=5, ge=1, alias="INTENTOPS_JOB_MAX_ATTEMPTS")
    """Attempts before a job is dead and reported on the PR or issue it is about."""
    job_backoff_seconds: float = Field(default=2.0, gt=0, alias="INTENTOPS_JOB_BACKOFF_SECONDS")
    """The wait before a failed job's first retry, doubled each time (at most 10 minutes)."""
    merge_on_signoff: bool = Field(default=True, alias="INTENTOPS_MERGE_ON_SIGNOFF")
    """`true`: the bot merges an intent's PR once its sign-off is complete and every check passed
    (auto-approved intents are always merged so), as `intentops up` and `intentops demo` do; `false`: a
    person merges."""
    retention_days: float = Field(default=30.0, gt=0, alias="INTENTOPS_RETENTION_DAYS")
    """Finished jobs and webhook deliveries older than this are deleted (dead jobs are kept)."""
    policy_floor: Path | None = Field(default=None, alias="INTENTOPS_POLICY_FLOOR")
    """The bot's floor policies (a file or folder): evaluated with every repository's own, which may add to
    them but never weaken them. Unset: the floor shipped with IntentOps (policies/floor/floor.yaml)."""

    # The approval dashboard, served by the bot under /dashboard/ (on the bot's port, seed 8214).
    dashboard_secret: SecretStr | None = Field(default=None, alias="INTENTOPS_DASHBOARD_SECRET")
    """Signs the session cookie and encrypts the forge tokens kept in the state database. Required outside
    development; in development a random one per process (then a restart signs everyone out)."""
    dashboard_https_only: bool = Field(default=False, alias="INTENTOPS_DASHBOARD_HTTPS_ONLY")
    """Session cookies only over HTTPS (set behind a TLS-terminating proxy)."""
    dashboard_session_hours: float = Field(default=12.0, gt=0, alias="INTENTOPS_DASHBOARD_SESSION_HOURS")
    """The longest a sign-in lasts, however active."""
    dashboard_idle_hours: float = Field(default=8.0, gt=0, alias="INTENTOPS_DASHBOARD_IDLE_HOURS")
    """A sign-in not used for this long ends."""
    dashboard_poll_seconds: float = Field(default=1.0, gt=0, alias="INTENTOPS_DASHBOARD_POLL_SECONDS")
    """How often the live stream looks for ledger changes."""
    dashboard_forge_cache_seconds: float = Field(
        default=10.0, ge=0, alias="INTENTOPS_DASHBOARD_FORGE_CACHE_SECONDS"
    )
    """How long the approvals page reuses what the forge said about an intent (0: ask every time)."""

    # The edges: whose forwarded headers the bot believes, and what it serves without a sign-in.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="INTENTOPS_TRUSTED_PROXIES"
    )
    """Addresses or networks (comma-separated) of the reverse proxies in front of the bot: only requests
    from them have their X-Forwarded-For / X-Forwarded-Proto believed. Empty (default): nobody's are."""
    api_docs: bool = Field(default=False, alias="INTENTOPS_API_DOCS")
    """Serve /docs, /redoc and /openapi.json (the bot's and the registry's); off by default."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        parts = value.split(",") if isinstance(value, str) else value
        if not isinstance(parts, list | tuple):
            return value
        entries = tuple(str(part).strip() for part in parts if str(part).strip())
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(TRUSTED_PROXY_INVALID.format(entry=entry)) from None
        return entries

    # Operations: how the bot logs (bot.logs).
    log_format: Literal["text", "json"] = Field(default="text", alias="INTENTOPS_LOG_FORMAT")
    """`json`: one JSON object a line, with the job, delivery, repository, intent and PR it is about."""

    # Deploy and the service registry (seed port 8000).
    registry_url: str = Field(default="http://127.0.0.1:8000", alias="INTENTOPS_REGISTRY_URL")
    """The service registry's address for generated services (the bot serves it at `/registry`)."""
    registry_token: SecretStr | None = Field(default=None, alias="INTENTOPS_REGISTRY_TOKEN")
    """Bearer token services register with; unset in development: generated once into the data dir."""
    registry_ttl_seconds: float = Field(default=30.0, gt=0, alias="INTENTOPS_REGISTRY_TTL_SECONDS")
    """A service not heard from for this long is shown as unhealthy in the registry."""
    deploy_backend: str = Field(
        default="local", pattern="^(local|docker|swarm)$", alias="INTENTOPS_DEPLOY_BACKEND"
    )
    """`local` (processes), `docker` (containers, needs a Docker engine) or `swarm` (Swarm services, needs
    the engine to manage a swarm: `docker swarm init`)."""
    deploy_health_timeout_seconds: float = Field(default=30.0, gt=0, alias="INTENTOPS_DEPLOY_HEALTH_TIMEOUT")
    """How long a new version has to answer its health check before the deploy is rolled back."""
    docker_base_image: str = Field(default="intentops-base:bookworm", alias="INTENTOPS_BASE_IMAGE")
    """The base image of generated services' containers (built locally by `intentops docker base-image`)."""
    docker_keep_images: int = Field(default=3, ge=1, alias="INTENTOPS_DOCKER_KEEP_IMAGES")
    """Images kept per service (older ones are removed; the previous one allows a rollback)."""

    # Kubernetes, the GitOps way (pipeline.deploy.kubernetes): manifests Argo CD or Flux applies.
    k8s_manifests: Path | None = Field(default=None, alias="INTENTOPS_K8S_MANIFESTS")
    """A folder that gets `<service>/deployment.yaml`, `service.yaml`, `persistentvolumeclaim.yaml` and
    `kustomization.yaml` for each service deployed healthy, and loses them on undeploy; in a git checkout of
    your deploy repository, each change is committed and pushed; unset: no manifests."""
    k8s_namespace: str = Field(
        default="", pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$", alias="INTENTOPS_K8S_NAMESPACE"
    )
    """The namespace the kustomizations set; unset: whichever namespace Argo CD or Flux applies them to."""
    k8s_image_prefix: str = Field(
        default="", pattern=r"^([a-z0-9][a-z0-9._:/-]*[a-z0-9])?$", alias="INTENTOPS_K8S_IMAGE_PREFIX"
    )
    """Where the cluster pulls the line's images from (e.g. `registry.example.com/team`: the image is
    `registry.example.com/team/<service>:<merge sha>`); unset: `<service>:<merge sha>`."""
    k8s_storage: str = Field(default="1Gi", pattern=r"^[1-9][0-9]*(Mi|Gi|Ti)$", alias="INTENTOPS_K8S_STORAGE")
    """The size each service's data claim (PersistentVolumeClaim) asks for."""

    # The Docker Swarm backend (INTENTOPS_DEPLOY_BACKEND=swarm).
    swarm_image_prefix: str = Field(
        default="", pattern=r"^([a-z0-9][a-z0-9._:/-]*[a-z0-9])?$", alias="INTENTOPS_SWARM_IMAGE_PREFIX"
    )
    """A registry every node of the swarm pulls from (e.g. `registry.example.com/team`): each image is pushed
    there as `<prefix>/<service>:<merge sha>` before its service starts; unset: the local image (one node)."""

    # The factory's stages: which implementation answers each (pipeline.factory.routing, bot.stages).
    stages: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict, alias="INTENTOPS_STAGES")
    """Stage -> `builtin` or a stage service's base URL, comma-separated (e.g.
    `spec-verifier=http://127.0.0.1:8205,code-generator=builtin`); stages not named run built in."""
    stage_token: SecretStr | None = Field(default=None, alias="INTENTOPS_STAGE_TOKEN")
    """The bearer token between the line and its stage services (`intentops stage` requires the same)."""
    stage_timeout_seconds: float = Field(default=120.0, gt=0, alias="INTENTOPS_STAGE_TIMEOUT")
    """How long a call to a stage service may take before the built-in answers instead."""

    # The assembly-line monitor (bot.handlers.monitor): rules over the line's metrics that file intents.
    monitor_enabled: bool = Field(default=True, alias="INTENTOPS_MONITOR")
    """Run the assembly-line monitor's rules after the line's work moves (`false`: never file improvement
    intents)."""
    monitor_rules: Path | None = Field(default=None, alias="INTENTOPS_MONITOR_RULES")
    """A folder of monitor rules (`*.yaml`); unset: the rules shipped with IntentOps (monitors/)."""
    monitor_max_per_day: int = Field(default=2, ge=0, alias="INTENTOPS_MONITOR_MAX_PER_DAY")
    """At most this many improvement intents filed a day, whatever the rules say."""
    monitor_interval_minutes: int = Field(
        default=60, ge=0, le=10080, alias="INTENTOPS_MONITOR_INTERVAL_MINUTES"
    )
    """The bot (`bot serve`, `up`) also runs the monitor on each repository it serves this often, so rules
    about waiting (a sign-off pending for a day) fire when nothing else happens; 0: only after events."""
    rate_card: Path | None = Field(default=None, alias="INTENTOPS_RATE_CARD")
    """A YAML rate card pricing compute (build and sandbox seconds, uptime hours, with Docker CPU seconds and
    memory GB-hours); unset: the defaults."""

    @field_validator("stages", mode="before")
    @classmethod
    def _stage_routes(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        routes: dict[str, str] = {}
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            stage, separator, target = entry.partition("=")
            if not separator or not stage.strip() or not target.strip():
                raise ValueError(STAGE_ROUTE_INVALID.format(entry=entry))
            routes[stage.strip()] = target.strip()
        return routes

    @model_validator(mode="after")
    def _stage_routing_usable(self) -> Settings:
        from pipeline.factory.routing import StageConfigError, StageRegistry

        try:
            StageRegistry.from_config(
                self.stages, token=self.stage_token, timeout_s=self.stage_timeout_seconds
            )
        except StageConfigError as exc:
            raise ValueError(f"INTENTOPS_STAGES: {exc}") from None
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Given values, then the environment, then the configuration file (INTENTOPS_CONFIG), then the
        defaults."""
        from bot.config import ConfigFileSource, config_path

        path = config_path()
        if path is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, ConfigFileSource(settings_cls, path))

    @model_validator(mode="after")
    def _private_key_from_file(self) -> Settings:
        if self.github_private_key is not None or self.github_private_key_path is None:
            return self
        try:
            pem = self.github_private_key_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ValueError(
                PRIVATE_KEY_UNREADABLE.format(path=self.github_private_key_path, reason=reason)
            ) from None
        self.github_private_key = SecretStr(pem)
        return self

    @property
    def offline_llm(self) -> bool:
        return self.anthropic_api_key is None

    @property
    def uses_github(self) -> bool:
        return self.github_token is not None or self.github_app_id is not None

    def state_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'state.db').resolve()}"

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for name in (
            "anthropic_api_key",
            "github_token",
            "github_private_key",
            "webhook_secret",
            "dashboard_secret",
            "registry_token",
        ):
            value = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is a placeholder; set a real secret outside development")
        return self
