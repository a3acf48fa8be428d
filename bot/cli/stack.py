"""The whole line on one machine: the embedded forge, a demo repository and its people, and the bot.

This is the composition root `intentops up` and `intentops demo` share; it is the one place that starts
the forge and the bot together. Credentials live in `<data>/credentials.json` (mode 0600), never in logs.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import uvicorn

from bot.server import REGISTRY_PATH, Bot, build_bot
from bot.serving import server_config
from bot.settings import Settings
from bot.vcs.models import StatusContext
from forge.server import ForgeServer
from pipeline.deploy.bridge import listen
from pipeline.resources import resource
from pipeline.sandbox.locate import locate_wheelhouse
from pipeline.state.private import private_dir
from pipeline.wheelhouse import WheelhouseError, prepare_wheelhouse

REPO = "demo/intents"
OWNER, BOT, AUTHOR, REVIEWER = "demo", "intentops-bot", "alice", "bob"
SECOND_REVIEWER = "carol"
"""The second person a self-modification of the line needs (`intentops demo --self-improve`)."""
CREDENTIALS = "credentials.json"
START_TIMEOUT_S = 30.0
DEMO_README = b"""# Intents

Commit an intent under `intents/` (see the IntentOps README); the bot answers with a pull request.
"""


@dataclass(frozen=True)
class Credentials:
    webhook_secret: str
    dashboard_secret: str
    tokens: dict[str, str]
    stage_token: str = ""
    """What the line sends the stage services it built (and their deployer gives them)."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=2)


def port_or_free(preferred: int, host: str = "127.0.0.1") -> int:
    """`preferred` when it is free, else any free port (a second `up` beside a first one still starts)."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def _repo_files() -> dict[str, bytes]:
    files = {"BLUEPRINT.md": resource("examples/BLUEPRINT.md").read_bytes(), "README.md": DEMO_README}
    for path in sorted(resource("policies").iterdir()):
        if path.is_file():
            files[f"policies/{path.name}"] = path.read_bytes()
    template = resource("templates/github/ISSUE_TEMPLATE/intent.yml")
    files[".github/ISSUE_TEMPLATE/intent.yml"] = template.read_bytes()
    return files


def default_wheelhouse() -> Path:
    """The first prepared wheelhouse (the current directory's .data, then the checkout's); none prepared
    yet: the current directory's, which `prepare_wheelhouse` fills (it needs the network once)."""
    try:
        return locate_wheelhouse().path
    except WheelhouseError:
        return (Path(".data") / "wheelhouse").absolute()


@dataclass
class Stack:
    forge: ForgeServer
    bot: Bot
    bot_url: str
    credentials: Credentials
    data_dir: Path
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def dashboard_url(self) -> str:
        return f"{self.bot_url}/dashboard/"

    def stop(self, *, undeploy: bool) -> None:
        if undeploy:
            for instance in self.bot.line.deployer.running():
                self.bot.line.deployer.undeploy(instance.name)
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self.bot.database.dispose()
        self.forge.stop()


PROTECTING_CONTEXTS = (StatusContext.GOVERNANCE, StatusContext.SPEC, StatusContext.TESTS)


def _people(forge: ForgeServer) -> Credentials:
    admin = forge.admin
    people = (OWNER, BOT, AUTHOR, REVIEWER, SECOND_REVIEWER)
    tokens = {login: admin.create_user(login).token for login in people}
    admin.create_repo(REPO, files=_repo_files())
    for login in (BOT, AUTHOR, REVIEWER, SECOND_REVIEWER):
        admin.add_collaborator(REPO, login, "write")
    # Nobody merges a PR before governance is satisfied and the line has checked its SPEC and tests
    # (pushing intents to main stays open).
    admin.protect_branch(REPO, "main", required_approvals=0, required_contexts=list(PROTECTING_CONTEXTS))
    return Credentials(
        webhook_secret=secrets.token_urlsafe(32),
        dashboard_secret=secrets.token_urlsafe(32),
        tokens=tokens,
        stage_token=secrets.token_urlsafe(32),
    )


def _settings(
    data_dir: Path,
    forge: ForgeServer,
    credentials: Credentials,
    bot_url: str,
    backend: str,
    *,
    merge_on_signoff: bool,
) -> Settings:
    return Settings(
        INTENTOPS_DATA_DIR=str(data_dir),
        INTENTOPS_WEBHOOK_SECRET=credentials.webhook_secret,
        INTENTOPS_STAGE_TOKEN=credentials.stage_token,
        INTENTOPS_DASHBOARD_SECRET=credentials.dashboard_secret,
        GITHUB_TOKEN=credentials.tokens[BOT],
        GITHUB_BASE_URL=forge.api_url,
        INTENTOPS_BOT_LOGIN=BOT,
        INTENTOPS_PUBLIC_URL=bot_url,
        INTENTOPS_REPO=REPO,
        INTENTOPS_DEPLOY_BACKEND=backend,
        INTENTOPS_MERGE_ON_SIGNOFF=merge_on_signoff,
    )


def start_stack(
    data_dir: Path,
    *,
    bot_port: int,
    forge_port: int,
    backend: str = "local",
    wheelhouse: Path | None = None,
    merge_on_signoff: bool = True,
) -> Stack:
    """A fresh forge (with the demo repository and people) and the bot, both serving when it returns.

    `merge_on_signoff`: the bot merges a signed-off PR whose checks pass (as the bot's default settings do);
    off, the reviewer merges by hand."""
    data_dir = data_dir.absolute()
    shared_wheelhouse = wheelhouse or default_wheelhouse()
    prepare_wheelhouse(shared_wheelhouse)  # a no-op once set-up has run; needs the network otherwise
    private_dir(data_dir / "bot")  # the state database, tokens and credentials are for the owner only
    link = data_dir / "bot" / "wheelhouse"
    if not link.exists():
        link.symlink_to(shared_wheelhouse)
    forge = ForgeServer(data_dir / "forge", port=forge_port).start()
    credentials = _people(forge)
    credentials.save(data_dir / CREDENTIALS)
    bot_url = f"http://127.0.0.1:{bot_port}"
    settings = _settings(
        data_dir / "bot", forge, credentials, bot_url, backend, merge_on_signoff=merge_on_signoff
    )
    bot = build_bot(settings)
    bot.line.venv_cache = shared_wheelhouse.parent / "venvs"
    # Containers reach the registry through the Docker bridge; that address serves nothing else.
    try:
        listeners = listen(bot.app, "127.0.0.1", bot_port, registry_prefix=REGISTRY_PATH)
    except OSError as exc:
        forge.stop()
        raise RuntimeError(f"the bot cannot listen on {bot_url}: {exc.strerror or exc}") from None
    config = server_config(listeners.app, settings, host="127.0.0.1", port=bot_port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, args=(listeners.sockets,), name="bot-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            forge.stop()
            raise RuntimeError(f"the bot did not start on {bot_url}")
        time.sleep(0.05)
    forge.admin.add_webhook(REPO, f"{bot_url}/webhook", secret=credentials.webhook_secret)
    return Stack(forge, bot, bot_url, credentials, data_dir, server, thread)
