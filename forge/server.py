"""Run a forge on a real socket: `ForgeServer(data_dir).start()` for tests, the bot and `forge serve`."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from forge.admin import ForgeAdmin
from forge.app import create_app
from forge.core import Forge

START_TIMEOUT_S = 15.0
# Where a serving forge writes its URL in its data directory, so the admin commands print real URLs.
ADDRESS_FILE = "server.url"


def recorded_url(data_dir: Path) -> str | None:
    """The URL of the server that serves `data_dir`, if one recorded it and still accepts connections."""
    try:
        url = (data_dir / ADDRESS_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    host, _, port = url.removeprefix("http://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return url
    except (OSError, ValueError):
        return None


class ForgeServer:
    """A forge served by uvicorn in a background thread of this process.

    `port=0` asks the OS for a free port; `url` is known once `start()` returns, which it does only when
    the server accepts connections. `admin` creates users, tokens, repositories, hooks and protection.
    """

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_api_body_bytes: int = 8 * 1024 * 1024,
        hook_timeout_s: float = 10.0,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: without it, a header write and a body write wait ~40 ms on
        # delayed ACKs of keep-alive clients (Nagle).
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.forge = Forge(data_dir, base_url=self.url, hook_timeout_s=hook_timeout_s)
        self.admin = ForgeAdmin(self.forge)
        config = uvicorn.Config(
            create_app(self.forge, max_api_body_bytes=max_api_body_bytes),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v3"

    def _listen(self) -> None:
        self._socket.listen(128)
        (self.data_dir / ADDRESS_FILE).write_text(self.url + "\n", encoding="utf-8")

    def _forget_address(self) -> None:
        path = self.data_dir / ADDRESS_FILE
        with contextlib.suppress(OSError):
            if path.read_text(encoding="utf-8").strip() == self.url:
                path.unlink()

    def start(self) -> ForgeServer:
        self._listen()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="forge-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the forge did not start on {self.url}")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the CLI's `forge serve`)."""
        self._listen()
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._forget_address()
            self.forge.close()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._forget_address()
        self.forge.close()
        self._socket.close()

    def __enter__(self) -> ForgeServer:
        return self.start()

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
