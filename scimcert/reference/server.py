"""Serving the reference app over real HTTP on 127.0.0.1 with uvicorn, as a context manager."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from ..paths import DEFAULT_TENANT
from .app import Layer, ReferenceApp, ServerState, create_app
from .tenant import Tenant


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 lets the OS pick a free one."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it Nagle + delayed ACK add ~40 ms to every keep-alive request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def uvicorn_server(app: ReferenceApp, tls: tuple[str, str] | None = None) -> uvicorn.Server:
    """`tls`: (certificate file, key file) to serve https."""
    certificate, key = tls or (None, None)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2, backlog=2048, ssl_certfile=certificate, ssl_keyfile=key)
    return uvicorn.Server(config)


class ReferenceServer:
    """`with ReferenceServer() as server: httpx.get(server.base_url + "/Users", headers=...)`.

    Starts the reference server in a background thread on a free loopback port and stops it on exit.
    """

    def __init__(self, tenant: Tenant | str | Path = DEFAULT_TENANT, *, layers: Sequence[Layer] = (),
                 base_path: str = "/scim/v2", seed_users: int = 0, port: int = 0,
                 tls: tuple[str, str] | None = None):
        self.tenant = tenant if isinstance(tenant, Tenant) else Tenant.load(tenant)
        self.app = create_app(self.tenant, base_path=base_path, layers=layers, seed_users=seed_users)
        self._port = port
        self._tls = tls
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def state(self) -> ServerState:
        return self.app.state

    @property
    def token(self) -> str:
        return self.tenant.token

    def start(self) -> ReferenceServer:
        sock = bind(port=self._port)
        host, port = sock.getsockname()[:2]
        self.base_url = f"{'https' if self._tls else 'http'}://{host}:{port}{self.state.base_path}"
        self._server = uvicorn_server(self.app, self._tls)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="scimcert-reference", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reference server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
