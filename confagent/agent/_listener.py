"""``AgentListener``: the agent's own HTTP listener — ``/health``, ``/metrics``, ``/v1/status`` and history.

Rules:
1. ``GET /health``: 200 ``{"health": "true"}`` when the ``StatusBoard`` is
   healthy, else 503 ``{"health": "false", "reason": ...}``. While the board
   reports backend trouble, ``/health`` asks the backend once (``probe``,
   bounded by ``PROBE_TIMEOUT_S``) so that a recovered, quiet backend turns
   the agent healthy again without waiting for a change.
2. ``GET /metrics``: the Prometheus text of the board's own registry.
3. ``GET /v1/status``: the board's JSON (each resource, dest, revision, result, error, last success).
4. ``GET /v1/history`` (query ``target`` a resource or dest, ``since`` Unix
   seconds, ``limit``): ``{"records": [...]}``, the newest first, without
   diffs; ``GET /v1/history/ID``: one record with its diff and commands'
   output. Values of secret keys are always masked here (``--show-secrets``
   reads the database itself). 404 when the agent keeps no history or has
   no such record; 400 for a malformed query; 503 when the database cannot be read.
5. The status page (``confagent.agent._page``, ``page``): ``/``, its assets,
   ``/v1/page`` and the event stream ``/v1/events``.
6. Anything else: 404, or 405 for another method. Bodies are never read.
7. Served by ``confagent.http_listener`` with uvicorn's defaults: in the agent's
   event loop, without uvicorn's signal handlers (the daemon owns
   SIGTERM/SIGINT/SIGHUP); a taken address is a ``ConfigError`` keyed ``agent.listen``.
   On stop, requests in flight get ``SHUTDOWN_GRACE_S`` (longer than a probe takes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import orjson

from confagent.agent._metrics import METRICS_CONTENT_TYPE
from confagent.agent._page import ASSETS, SECURITY_HEADERS, StatusPage
from confagent.agent._status import StatusBoard
from confagent.asgi import Receive, Scope, Send, send_response
from confagent.errors import ConfagentError, StorageError
from confagent.http_listener import HttpListener, ListenerSettings

__all__ = ["PROBE_TIMEOUT_S", "SHUTDOWN_GRACE_S", "AgentListener", "StatusApp"]

PROBE_TIMEOUT_S = 2.0
SHUTDOWN_GRACE_S = 3
"""On stop, how long requests in flight may finish (whole seconds, as uvicorn takes it)."""

Probe = Callable[[], Awaitable[int]]
"""Ask the backend for its revision; raises ``ConfagentError`` when it cannot answer."""


class StatusApp:
    """The ASGI application of the listener (module rules 1-5)."""

    def __init__(self, board: StatusBoard, probe: Probe | None = None) -> None:
        self.board = board
        self.probe = probe
        self.page = StatusPage(board)
        """The status page (rule 5); the agent gives it the history's secret patterns and membership."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] in _PAGE_PATHS:
            if scope["method"] in ("GET", "HEAD"):
                await self._page(scope, receive, send)
            else:
                await _respond(send, 405, _json({"error": "only GET"}))
            return
        routes: dict[str, Callable[[], Awaitable[tuple[int, bytes, str]]]] = {
            "/health": self._health, "/metrics": self._metrics, "/v1/status": self._status}
        route = routes.get(scope["path"])
        if route is None and scope["path"].startswith(_HISTORY):
            route = _bind(self._history, scope["path"][len(_HISTORY):], scope.get("query_string", b""))
        if route is None:
            await _respond(send, 404, _json({"error": f"no such path: {scope['path']}"}))
        elif scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, _json({"error": "only GET"}))
        else:
            status, body, content_type = await route()
            await _respond(send, status, body, content_type, head=scope["method"] == "HEAD")

    async def _page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rule 5."""
        path, head = scope["path"], scope["method"] == "HEAD"
        if path in ASSETS:
            await self.page.asset(path, send, head=head)
        elif path == "/v1/page":
            await self.page.document_route(send, head=head)
        elif head:  # a stream's headers, and no stream
            await send_response(send, 200, [(b"content-type", b"text/event-stream; charset=utf-8"),
                                            *SECURITY_HEADERS], b"", head=True)
        else:
            await self.page.events(receive, send)

    async def _health(self) -> tuple[int, bytes, str]:
        if self.board.backend_trouble is not None and self.probe is not None:
            await self._probe(self.probe)
        health = self.board.health()
        if health.ok:
            return 200, _json({"health": "true"}), "application/json"
        return 503, _json({"health": "false", "reason": health.reason}), "application/json"

    async def _probe(self, probe: Probe) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):  # not wait_for: see confagent.tasks
                await probe()
        except (ConfagentError, TimeoutError):
            return  # still in trouble: the board keeps its reason
        self.board.backend_recovered()

    async def _metrics(self) -> tuple[int, bytes, str]:
        return 200, self.board.metrics.exposition(), METRICS_CONTENT_TYPE

    async def _status(self) -> tuple[int, bytes, str]:
        return 200, _json(self.board.as_json()), "application/json"

    async def _history(self, rest: str, query_string: bytes) -> tuple[int, bytes, str]:
        """Rule 4."""
        history = self.board.history
        if history is None:
            return 404, _json({"error": "this agent keeps no render history ([history] enabled = false)"}), \
                _JSON
        try:
            if rest.startswith("/"):
                record = await history.record(int(rest[1:])) if rest[1:].isdigit() else None
                if record is None:
                    return 404, _json({"error": f"no history record {rest[1:]}"}), _JSON
                return 200, _json(record.as_json()), _JSON
            query = {key: values[-1] for key, values in parse_qs(query_string.decode()).items()}
            since = float(query["since"]) if "since" in query else None
            limit = {"limit": int(query["limit"])} if "limit" in query else {}
            records = await history.records(target=query.get("target"), since_s=since, **limit)
        except ValueError as error:
            return 400, _json({"error": f"bad query: {error}"}), _JSON
        except StorageError as error:
            return 503, _json({"error": str(error)}), _JSON
        return 200, _json({"records": [record.summary_json() for record in records]}), _JSON


_HISTORY = "/v1/history"
_PAGE_PATHS = frozenset({*ASSETS, "/v1/page", "/v1/events"})
_JSON = "application/json"


def _bind(route: Callable[[str, bytes], Awaitable[tuple[int, bytes, str]]], rest: str,
          query_string: bytes) -> Callable[[], Awaitable[tuple[int, bytes, str]]] | None:
    """The history route for ``/v1/history`` and ``/v1/history/ID``; None for other paths under it."""
    if rest and not rest.startswith("/"):
        return None
    return lambda: route(rest, query_string)


def _json(value: object) -> bytes:
    return orjson.dumps(value) + b"\n"


async def _respond(send: Send, status: int, body: bytes, content_type: str = "application/json",
                   *, head: bool = False) -> None:
    await send_response(send, status, [(b"content-type", content_type.encode())], body, head=head)


class AgentListener(HttpListener):
    """The listener on ``host:port`` (module rule 6): ``start()`` binds and serves, ``stop()`` closes."""

    def __init__(self, app: StatusApp, host: str, port: int) -> None:
        super().__init__(app, host, port, "agent.listen", ListenerSettings(shutdown_grace_s=SHUTDOWN_GRACE_S))
        self.status_app = app

    async def stop(self) -> None:
        """End the page's event streams, then stop as every listener does."""
        self.status_app.page.close()
        await super().stop()
