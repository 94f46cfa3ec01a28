"""``HttpListener``: one ASGI application served by uvicorn on a socket bound here, in the caller's loop.

As the agent's listener: the socket is bound before uvicorn starts (a clear
``ConfigError`` when the address is taken, port 0 picks a free port), and
uvicorn installs no signal handlers (the command owns SIGTERM/SIGINT) and
does not rewrite the client address from ``X-Forwarded-For`` itself (its
default trusts 127.0.0.1; the data port decides, ``_proxies.py``). The
backlog is large, because a thousand hosts long-polling reconnect together.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from confagent.errors import ConfigError

__all__ = ["BACKLOG", "SHUTDOWN_GRACE_S", "HttpListener"]

BACKLOG = 4096
"""Connections the kernel queues before ``accept``."""
SHUTDOWN_GRACE_S = 3
"""On stop, requests still running after this long are cancelled."""


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpListener:
    """``app`` on ``host:port``: ``start()`` binds and serves, ``stop()`` closes.

    Args:
        option: the flag naming this address, for errors (``--listen``).
    """

    def __init__(self, app: Any, host: str, port: int, option: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.option = option
        self._server: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve.

        Raises:
            ConfigError: the address cannot be listened on (``key`` is the option).
        """
        config = uvicorn.Config(self.app, host=self.host, port=self.port, loop="none", http="httptools",
                                lifespan="off", access_log=False, log_level="warning", proxy_headers=False,
                                server_header=False, date_header=False, backlog=BACKLOG,
                                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
        sock = self._bind()
        self.port = sock.getsockname()[1]
        server = _QuietServer(config)
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server = server
        self._serving = asyncio.create_task(server.main_loop(), name=f"confagent-metad{self.option}")

    async def stop(self) -> None:
        server, serving = self._server, self._serving
        self._server = self._serving = None
        if server is None or serving is None:
            return
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        await server.shutdown()

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(BACKLOG)
        except OSError as error:
            sock.close()
            raise ConfigError(f"cannot listen on {self.host}:{self.port}: {error.strerror}",
                              key=self.option) from error
        return sock
