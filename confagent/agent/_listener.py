"""``AgentListener``: the agent's own HTTP listener — ``/health``, ``/metrics`` and ``/v1/status``.

Rules:
1. ``GET /health``: 200 ``{"health": "true"}`` when the ``StatusBoard`` is
   healthy, else 503 ``{"health": "false", "reason": ...}``. While the board
   reports backend trouble, ``/health`` asks the backend once (``probe``,
   bounded by ``PROBE_TIMEOUT_S``) so that a recovered, quiet backend turns
   the agent healthy again without waiting for a change.
2. ``GET /metrics``: the Prometheus text of the board's own registry.
3. ``GET /v1/status``: the board's JSON (each resource, dest, revision, result, error, last success).
4. Anything else: 404, or 405 for another method. Bodies are never read.
5. Served by uvicorn on a socket bound here (a clear ``ConfigError`` when the
   address is taken), in the agent's event loop, without uvicorn's signal
   handlers (the daemon owns SIGTERM/SIGINT/SIGHUP).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
import uvicorn

from confagent.agent._metrics import METRICS_CONTENT_TYPE
from confagent.agent._status import StatusBoard
from confagent.errors import ConfagentError, ConfigError

__all__ = ["PROBE_TIMEOUT_S", "AgentListener", "StatusApp"]

PROBE_TIMEOUT_S = 2.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Probe = Callable[[], Awaitable[int]]
"""Ask the backend for its revision; raises ``ConfagentError`` when it cannot answer."""


class StatusApp:
    """The ASGI application of the listener (module rules 1-4)."""

    def __init__(self, board: StatusBoard, probe: Probe | None = None) -> None:
        self.board = board
        self.probe = probe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        routes = {"/health": self._health, "/metrics": self._metrics, "/v1/status": self._status}
        route = routes.get(scope["path"])
        if route is None:
            await _respond(send, 404, _json({"error": f"no such path: {scope['path']}"}))
        elif scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, _json({"error": "only GET"}))
        else:
            status, body, content_type = await route()
            await _respond(send, status, body, content_type, head=scope["method"] == "HEAD")

    async def _health(self) -> tuple[int, bytes, str]:
        if self.board.backend_trouble is not None and self.probe is not None:
            await self._probe(self.probe)
        health = self.board.health()
        if health.ok:
            return 200, _json({"health": "true"}), "application/json"
        return 503, _json({"health": "false", "reason": health.reason}), "application/json"

    async def _probe(self, probe: Probe) -> None:
        try:
            await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
        except (ConfagentError, TimeoutError):
            return  # still in trouble: the board keeps its reason
        self.board.backend_recovered()

    async def _metrics(self) -> tuple[int, bytes, str]:
        return 200, self.board.metrics.exposition(), METRICS_CONTENT_TYPE

    async def _status(self) -> tuple[int, bytes, str]:
        return 200, _json(self.board.as_json()), "application/json"


def _json(value: object) -> bytes:
    return orjson.dumps(value) + b"\n"


async def _respond(send: Send, status: int, body: bytes, content_type: str = "application/json",
                   *, head: bool = False) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (rule 5)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AgentListener:
    """The listener on ``host:port``: ``start()`` binds and serves, ``stop()`` closes."""

    def __init__(self, app: StatusApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve.

        Raises:
            ConfigError: the address cannot be listened on (``key`` is ``agent.listen``).
        """
        config = uvicorn.Config(self.app, host=self.host, port=self.port, loop="none", http="httptools",
                                lifespan="off", access_log=False, log_level="warning")
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        server = _QuietServer(config)
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server = server
        self._serving = asyncio.create_task(server.main_loop(), name="confagent-agent-listener")

    async def stop(self) -> None:
        server, serving = self._server, self._serving
        self._server = self._serving = None
        if server is None or serving is None:
            return
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        await server.shutdown()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}", key="agent.listen") from error
    return sock
