"""``HttpListener``: one ASGI application served by uvicorn on a socket bound here, in the caller's loop.

The one way confagent serves HTTP: the store's client URLs, metad's two
ports and the agent's status listener. Beside it, ``client_common_name``: the
name a connection's client certificate gives (the store's two fronts ask it).

Rules:
1. The socket is bound before uvicorn starts, so a taken address is a clear
   ``ConfigError`` whose ``key`` is the option that gave the address; port 0
   picks a free port, which ``port`` holds once started.
2. uvicorn installs no signal handlers: the command that runs the loop owns
   SIGTERM/SIGINT/SIGHUP, and several listeners share one loop.
3. No lifespan events, no WebSocket (no listener serves one: an upgrade request
   is served as plain HTTP, and uvicorn imports no wsproto),
   no access log, uvicorn logs warnings only, and through
   the process's logging set-up: it is given no logging config of its own
   (``cli``'s ``configure_logging`` routes its loggers to the process's format).
4. ``stop()`` stops accepting, lets requests in flight finish for at most
   ``shutdown_grace_s`` (``None``: as long as they take), then closes.
5. What differs between the listeners (backlog, uvicorn's own headers,
   ``X-Forwarded-For``, keep-alive, TLS, the connection's protocol class) is a
   ``ListenerSettings`` field whose default is uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from confagent.asgi import ASGIApp
from confagent.errors import ConfigError

__all__ = ["HttpListener", "ListenerSettings", "ListenerTls", "client_common_name"]


@dataclass(frozen=True, slots=True)
class ListenerTls:
    """TLS on a listener, from PEM files that uvicorn loads on ``start()``."""

    cert_file: Path
    key_file: Path
    trusted_ca_file: Path | None = None
    """Client certificates are checked against these authorities."""
    client_cert_auth: bool = False
    """Refuse a client without a certificate from ``trusted_ca_file``."""


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    """How a listener serves (module rule 5); validated on creation."""

    backlog: int = 2048
    """Connections the kernel queues before ``accept``."""
    shutdown_grace_s: int | None = None
    """On stop, requests still running after this long are cancelled (``None``: never)."""
    keep_alive_s: int = 5
    """An idle keep-alive connection is closed after this long."""
    proxy_headers: bool = True
    """Take the client's address from ``X-Forwarded-For`` sent by 127.0.0.1."""
    server_header: bool = True
    date_header: bool = True
    tls: ListenerTls | None = None
    protocol: type[asyncio.Protocol] | None = None
    """The protocol class a connection gets (``None``: uvicorn's httptools); its
    ``alpn_protocols``, if it has them, are offered in the TLS handshake."""

    def __post_init__(self) -> None:
        if self.backlog < 1 or self.keep_alive_s < 1:
            raise ConfigError(f"a listener's backlog ({self.backlog}) and keep-alive "
                              f"({self.keep_alive_s} s) must be positive")
        if self.shutdown_grace_s is not None and self.shutdown_grace_s < 0:
            raise ConfigError(f"a listener's shutdown grace ({self.shutdown_grace_s} s) is negative")


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (module rule 2)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpListener:
    """``app`` on ``host:port``: ``start()`` binds and serves, ``stop()`` closes.

    Args:
        option: the option that gave the address (``--listen``, ``agent.listen``), for errors.
        settings: how to serve; uvicorn's defaults when not given.
    """

    def __init__(self, app: ASGIApp, host: str, port: int, option: str,
                 settings: ListenerSettings | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.option = option
        self.settings = settings or ListenerSettings()
        self._server: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        """``host:port``, the host in brackets when it is an IPv6 address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls is not None else "http"
        return f"{scheme}://{self.address}"

    async def start(self) -> None:
        """Bind and serve; with port 0, ``port`` is then the port the system chose.

        Raises:
            ConfigError: the address cannot be listened on (``key`` is the option).
        """
        assert self._server is None, "start() once, until stop()"
        config = self._uvicorn_config()
        config.load()
        alpn = getattr(self.settings.protocol, "alpn_protocols", None)
        if config.ssl is not None and alpn:
            config.ssl.set_alpn_protocols(alpn)
        sock = self._bind()
        self.port = sock.getsockname()[1]
        server = _QuietServer(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server = server
        self._serving = asyncio.create_task(server.main_loop(), name=f"http {self.option} {self.url}")

    async def stop(self) -> None:
        """Stop accepting and close (module rule 4); nothing to do when not started."""
        server, serving = self._server, self._serving
        self._server = self._serving = None
        if server is None or serving is None:
            return
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        await server.shutdown()

    def _uvicorn_config(self) -> uvicorn.Config:
        settings, tls = self.settings, self.settings.tls
        return uvicorn.Config(
            self.app, host=self.host, port=self.port, loop="none", http=settings.protocol or "httptools",
            lifespan="off", ws="none",
            access_log=False, log_level="warning", log_config=None, backlog=settings.backlog,
            timeout_graceful_shutdown=settings.shutdown_grace_s, timeout_keep_alive=settings.keep_alive_s,
            proxy_headers=settings.proxy_headers, server_header=settings.server_header,
            date_header=settings.date_header,
            ssl_certfile=str(tls.cert_file) if tls else None,
            ssl_keyfile=str(tls.key_file) if tls else None,
            ssl_ca_certs=str(tls.trusted_ca_file) if tls and tls.trusted_ca_file else None,
            ssl_cert_reqs=ssl.CERT_REQUIRED if tls and tls.client_cert_auth else ssl.CERT_NONE,
        )

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(self.settings.backlog)
        except OSError as error:
            sock.close()
            message = f"cannot listen on {self.address}: {error.strerror}"
            raise ConfigError(message, key=self.option) from error
        return sock


def client_common_name(transport: asyncio.Transport) -> str:
    """The common name of the client certificate a connection showed, if any: who calls, on the
    store's client URLs (both fronts)."""
    ssl_object = transport.get_extra_info("ssl_object")
    certificate = ssl_object.getpeercert() if ssl_object is not None else None
    for field in (certificate or {}).get("subject", ()):
        for key, value in field:
            if key == "commonName":
                return str(value)
    return ""
