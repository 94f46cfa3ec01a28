"""``DataApp``: the data port — ``GET|HEAD /{path}``, ``/self[/{path}]``, long-poll — filtered by caller.

Rules:
1. The caller is the TCP peer, or the client a trusted proxy forwards for
   (``_proxies.py``); what it reads is ``MetadState.root_view`` or
   ``self_view`` for that address. Nothing readable is a 404 ``Not found``.
2. ``?wait=true`` holds the request until what this caller reads there
   changes (``_waits.py``), until ``?timeout=S`` seconds (an addition to
   metad's API; at most the service's ``wait_max_s``), or until the client
   leaves. ``prev_version=N`` answers at once when the answer changed since
   revision N. The answer is the whole current value, and
   ``X-Metad-Version`` is the revision it was read at (metad reports the
   version from before the wait on ``/self``).
3. Bodies are never read; other methods are a 405.
"""

from __future__ import annotations

import asyncio
import contextlib

from confagent.errors import MetadRequestError
from confagent.metad._formats import render
from confagent.metad._http import Exchange, Receive, Scope, Send, header, query_flag, query_int
from confagent.metad._paths import clean_path
from confagent.metad._proxies import ClientAddresses
from confagent.metad._service import MetadService
from confagent.metad._waits import Interest

__all__ = ["DataApp"]

SELF = "/self"
_ALLOW = ((b"allow", b"GET, HEAD"),)


class DataApp:
    """The ASGI application of the data port (module rules)."""

    def __init__(self, service: MetadService, addresses: ClientAddresses) -> None:
        self.service = service
        self.addresses = addresses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        exchange = Exchange.of(scope, send)
        version = self.service.state.revision
        if exchange.method not in ("GET", "HEAD"):
            await exchange.fail(405, "only GET and HEAD", version, _ALLOW)
            return
        try:
            interest = self._interest(scope)
            wait = query_flag(exchange.query, "wait")
            prev_version = query_int(exchange.query, "prev_version")
            timeout_s = _timeout_s(exchange.query, self.service.limits.wait_max_s)
        except MetadRequestError as error:
            await exchange.fail(400, str(error), version)
            return
        if wait and not await self._waited(interest, prev_version, timeout_s, receive):
            return  # the client left
        await self._answer(exchange, interest)

    def _interest(self, scope: Scope) -> Interest:
        client = scope.get("client")
        peer = client[0] if client else ""
        ip = self.addresses.client_ip(peer, header(scope, b"x-forwarded-for"))
        path = clean_path(scope["path"])
        if path == SELF or path.startswith(SELF + "/"):
            return Interest(ip, "self", path[len(SELF):] or "/")
        return Interest(ip, "root", path)

    async def _waited(self, interest: Interest, prev_version: int, timeout_s: float,
                      receive: Receive) -> bool:
        """Wait for a change (rule 2); False when the client disconnected."""
        while (await receive()).get("more_body", False):
            pass  # a GET has no body worth reading; drain it so receive() reports the disconnect
        disconnected = asyncio.ensure_future(receive())
        try:
            return await self.service.wait_change(interest, prev_version, timeout_s, disconnected)
        finally:
            disconnected.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await disconnected

    async def _answer(self, exchange: Exchange, interest: Interest) -> None:
        state = self.service.state
        node = interest.read(state)
        if node is None:
            await exchange.fail(404, "Not found", state.revision)
            return
        body = render(node, exchange.fmt, pretty=query_flag(exchange.query, "pretty"))
        await exchange.respond(200, body, state.revision)


def _timeout_s(query: dict[str, list[str]], wait_max_s: float) -> float:
    text = query.get("timeout", [""])[-1]
    if not text:
        return wait_max_s
    try:
        timeout_s = float(text)
    except ValueError:
        timeout_s = -1.0
    if not 0 < timeout_s < float("inf"):
        raise MetadRequestError(f"timeout must be a positive number of seconds, not {text!r}")
    return min(timeout_s, wait_max_s)
