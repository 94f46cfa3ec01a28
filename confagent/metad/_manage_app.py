"""``ManageApp``: the management API — ``/v1/data``, ``/v1/mapping``, ``/v1/rule``, ``/health``, ``/metrics``.

Rules (metad's API, its bugs fixed):
1. ``GET /v1/data[/{path}]`` and ``GET /v1/mapping[/{path}]`` read the
   current state, unfiltered (404 when nothing is there);
   ``GET /v1/rule[?hosts=a,b]`` is always a 200 (``{}`` when none).
2. ``PUT`` merges and ``POST`` replaces, from a JSON body
   (``_writes.py``); ``DELETE`` removes, or only the children in
   ``?subs=a,b``. ``PUT``/``POST /v1/rule`` sets each listed host's rules;
   ``DELETE /v1/rule?hosts=a,b`` removes them (metad panics there).
3. Every write is answered once the service's state shows it.
4. Bad input (JSON, paths, addresses, modes, a body over
   ``body_max_bytes``) is a 400 with the reason, a store that refuses or
   cannot be reached a 503 with its message: never a 500. An unknown path is a 404,
   a wrong method a 405.
5. There is no authentication: the listener binds to loopback by default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from confagent.errors import ConfagentError, MetadRequestError
from confagent.metad._access import parse_rules
from confagent.metad._formats import ok_body, render, render_document
from confagent.metad._http import Exchange, Receive, Scope, Send, query_flag, read_body
from confagent.metad._mapping import mapping_path, mapping_writes
from confagent.metad._metrics import METRICS_CONTENT_TYPE, MetadMetrics
from confagent.metad._paths import clean_path, normalize_ip, path_segments
from confagent.metad._service import MetadService
from confagent.metad._tree import Node, flatten_value
from confagent.metad._writes import (
    Space,
    WritePlan,
    delete_plan,
    merge_plan,
    replace_plan,
    rules_delete_plan,
    rules_set_plan,
)

__all__ = ["BODY_MAX_BYTES", "ManageApp"]

BODY_MAX_BYTES = 4 * 1024 * 1024
"""The largest management request body read."""

_Handler = Callable[[Exchange, str, Receive], Awaitable[None]]
_READ = ("GET", "HEAD")
_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")


class ManageApp:
    """The ASGI application of the management API (module rules)."""

    def __init__(self, service: MetadService, metrics: MetadMetrics | None = None, *,
                 body_max_bytes: int = BODY_MAX_BYTES) -> None:
        self.service = service
        self.metrics = metrics
        self.body_max_bytes = body_max_bytes
        self._routes: dict[str, _Handler] = {
            "/v1/data": self._data, "/v1/mapping": self._mapping, "/v1/rule": self._rule,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        exchange = Exchange.of(scope, send)
        version = self.service.state.revision
        path: str = scope["path"]
        if path in ("/health", "/metrics"):
            await self._plain(exchange, path)
            return
        route, rest = _route(path)
        handler = self._routes.get(route)
        if handler is None:
            await exchange.fail(404, "Not found", version)
            return
        if exchange.method not in _METHODS:
            await exchange.fail(405, f"{exchange.method} is not allowed here", version,
                                ((b"allow", ", ".join(_METHODS).encode()),))
            return
        try:
            await handler(exchange, clean_path(rest), receive)
        except MetadRequestError as error:
            await exchange.fail(400, str(error), self.service.state.revision)
        except ConfagentError as error:
            await exchange.fail(503, f"the store did not take the write: {error}", version)

    async def _plain(self, exchange: Exchange, path: str) -> None:
        version = self.service.state.revision
        if exchange.method not in _READ:
            await exchange.fail(405, "only GET and HEAD", version, ((b"allow", b"GET, HEAD"),))
        elif path == "/health":
            await exchange.respond(200, b'{"status":"up"}', version, content_type=b"application/json")
        else:
            body = self.metrics.exposition() if self.metrics is not None else b""
            await exchange.respond(200, body, version, content_type=METRICS_CONTENT_TYPE)

    # -- /v1/data ------------------------------------------------------------------------
    async def _data(self, exchange: Exchange, path: str, receive: Receive) -> None:
        state = self.service.state
        space = Space.data(state.layout)
        if exchange.method in _READ:
            await self._show(exchange, state.data(path))
            return
        if state.layout.reserved(path):
            raise MetadRequestError(f"{path} is the service's own: write mappings and rules through "
                                    f"/v1/mapping and /v1/rule")
        if exchange.method == "DELETE":
            await self._write(exchange, delete_plan(space, path, _names(exchange, "subs")))
            return
        values = flatten_value(path, await self._json(exchange, receive))
        reserved = [p for p in values if state.layout.reserved(p)]
        if reserved:
            raise MetadRequestError(f"{reserved[0]} is the service's own and cannot be written as data")
        await self._put_or_post(exchange, space, path, values)

    # -- /v1/mapping ---------------------------------------------------------------------
    async def _mapping(self, exchange: Exchange, path: str, receive: Receive) -> None:
        state = self.service.state
        space = Space.mappings(state.layout)
        if exchange.method in _READ:
            await self._show(exchange, _lookup(dict(state.mappings()), mapping_path(path)))
            return
        path = mapping_path(path)
        if exchange.method == "DELETE":
            subs = _names(exchange, "subs")
            if path == "/":
                subs = [_ip(sub, "subs") for sub in subs]
            await self._write(exchange, delete_plan(space, path, subs))
            return
        values = mapping_writes(path, await self._json(exchange, receive))
        await self._put_or_post(exchange, space, path, values)

    # -- /v1/rule ------------------------------------------------------------------------
    async def _rule(self, exchange: Exchange, path: str, receive: Receive) -> None:
        state = self.service.state
        if path != "/":
            await exchange.fail(404, "Not found", state.revision)
            return
        hosts = [_ip(host, "hosts") for host in _names(exchange, "hosts")]
        if exchange.method in _READ:
            rules = state.rules(hosts if "hosts" in exchange.query else None)
            body, content_type = render_document(rules, exchange.fmt, pretty=_pretty(exchange))
            await exchange.respond(200, body, state.revision, content_type=content_type)
        elif exchange.method == "DELETE":
            if not hosts:
                raise MetadRequestError("name the hosts whose rules to delete: ?hosts=ip1,ip2")
            await self._write(exchange, rules_delete_plan(state.layout, hosts))
        elif exchange.method in ("PUT", "POST"):
            body = await self._json(exchange, receive)
            if not isinstance(body, dict):
                raise MetadRequestError('the body must be an object {"<ip>": [{"path": ..., "mode": ...}]}')
            new_rules = {_ip(host, "a host"): parse_rules(host, value) for host, value in body.items()}
            await self._write(exchange, rules_set_plan(state.layout, new_rules))
        else:
            raise AssertionError(f"method {exchange.method} passed the check in __call__")

    # -- shared --------------------------------------------------------------------------
    async def _put_or_post(self, exchange: Exchange, space: Space, path: str, values: dict[str, str]) -> None:
        view = self.service.state.view
        if exchange.method == "PUT":
            await self._write(exchange, merge_plan(space, view, values))
        else:
            await self._write(exchange, replace_plan(space, view, path, values))

    async def _show(self, exchange: Exchange, node: Node | None) -> None:
        state = self.service.state
        if node is None:
            await exchange.fail(404, "Not found", state.revision)
            return
        await exchange.respond(200, render(node, exchange.fmt, pretty=_pretty(exchange)), state.revision)

    async def _write(self, exchange: Exchange, plan: WritePlan) -> None:
        revision = await self.service.write(plan)
        await exchange.respond(200, ok_body(exchange.fmt), max(revision, self.service.state.revision))

    async def _json(self, exchange: Exchange, receive: Receive) -> Any:
        body = await read_body(receive, self.body_max_bytes)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise MetadRequestError(f"the body is not JSON: {error} (a string value is quoted: '\"x\"')"
                                    ) from None


def _route(path: str) -> tuple[str, str]:
    """``/v1/data/a/b`` -> ``("/v1/data", "/a/b")``; an unknown path gives an unknown route."""
    for route in ("/v1/data", "/v1/mapping", "/v1/rule"):
        if path == route or path.startswith(route + "/"):
            return route, path[len(route):] or "/"
    return path, "/"


def _names(exchange: Exchange, name: str) -> list[str]:
    return [part.strip() for value in exchange.query.get(name, []) for part in value.split(",")
            if part.strip()]


def _ip(text: str, what: str) -> str:
    ip = normalize_ip(text)
    if ip is None:
        raise MetadRequestError(f"{what}: {text!r} is not an IP address")
    return ip


def _lookup(tree: dict[str, Node], path: str) -> Node | None:
    node: Node = tree
    for segment in path_segments(path):
        if not isinstance(node, dict) or segment not in node:
            return None
        node = node[segment]
    return node


def _pretty(exchange: Exchange) -> bool:
    return query_flag(exchange.query, "pretty")
