"""``StatusPage``: the agent's status page on its listener — its assets, its document and its live feed.

Rules:
1. ``GET /`` is the page (``page/index.html``), ``/page.css`` and
   ``/page.js`` its only assets, shipped in the package and read once; the
   page loads nothing from elsewhere and sends nothing anywhere. Every
   answer of the page carries ``SECURITY_HEADERS``: a Content-Security-Policy
   allowing only the listener's own script, style and requests (no inline
   script), no framing, no referrer, no MIME sniffing, no caching.
2. ``GET /v1/page`` is the page's document: the board's status, the
   agent's health (backend reachable, revision lag, store membership when the
   agent is a member), and each resource with the keys its last render read
   and their values in the view it rendered from, at most ``KEYS_SHOWN`` a
   resource. Values of keys whose names are secret
   (``HistoryConfig.is_secret``) are ``MASK`` unless the agent runs with
   ``page_show_secrets``; the history's records are masked by the history.
3. ``GET /v1/events`` is a server-sent event stream: a ``status`` event
   (the document of rule 2) at once and after each change the board is told
   of, coalesced (one document per wake, built only then); a ``record``
   event (a history record with its diff) per record stored. A comment
   every ``HEARTBEAT_S`` keeps proxies from closing it. It ends when the
   client goes, or when the listener stops (``close``). With no stream open,
   nothing is watched: the board and the history hand nothing to the page.
4. At most ``MAX_STREAMS`` streams at once; past that, 503.
5. While the agent publishes its summary for the fleet view, the document's
   ``fleet`` lists every host publishing (``confagent.agent._fleet``: its
   revision, whether it is behind, its failing resources, the age of its
   summary), live as any host's summary changes; None otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from confagent.agent._status import StatusBoard
from confagent.asgi import Receive, Send, send_response
from confagent.history import MASK, inputs_of
from confagent.settings import HistoryConfig

if TYPE_CHECKING:
    from confagent.history import HistoryRecord
    from confagent.server.node import StoreNode

__all__ = ["ASSETS", "HEARTBEAT_S", "KEYS_SHOWN", "MAX_STREAMS", "SECURITY_HEADERS", "Membership",
           "StatusPage", "membership_of", "sse_event"]

ASSETS = {"/": ("index.html", "text/html; charset=utf-8"),
          "/page.css": ("page.css", "text/css; charset=utf-8"),
          "/page.js": ("page.js", "text/javascript; charset=utf-8")}
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; "
                                 b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                 b"form-action 'none'; "
                                 b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)
KEYS_SHOWN = 1000
"""Keys listed per resource; the rest are counted (``keys_more``)."""
HEARTBEAT_S = 15.0
MAX_STREAMS = 32

Membership = Callable[[], dict[str, object]]
"""The embedded store member's view of its cluster (``membership_of``)."""


def membership_of(node: StoreNode) -> dict[str, object]:
    """The embedded member's view of its cluster, for the page's health (rule 2)."""
    me = node.config.member_id
    return {"member_id": f"{me:x}", "leader_id": f"{node.leader_id:x}", "is_leader": node.leader_id == me,
            "is_learner": node.is_learner, "term": node.term,
            "members": [{"id": f"{member.id:x}", "name": member.name, "is_learner": member.is_learner,
                         "started": member.started} for member in node.member_list()]}


@cache
def _asset(name: str) -> bytes:
    return resources.files("confagent.agent").joinpath("page", name).read_bytes()


def sse_event(name: str, document: object) -> bytes:
    """One server-sent event: its name and its data, JSON on one line (orjson writes no newline)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(document) + b"\n\n"


class StatusPage:
    """The page's routes (module rules) over one ``StatusBoard``."""

    def __init__(self, board: StatusBoard, history_config: HistoryConfig | None = None, *,
                 show_secrets: bool = False, membership: Membership | None = None) -> None:
        self.board = board
        self.history_config = history_config or HistoryConfig()
        self.show_secrets = show_secrets
        self.membership = membership
        self.documents_built = 0
        """Documents built since start (rule 3: none while no page is open)."""
        self._streams = 0
        self._closing = asyncio.Event()

    async def asset(self, path: str, send: Send, *, head: bool) -> None:
        """Rule 1."""
        name, content_type = ASSETS[path]
        await send_response(send, 200, [(b"content-type", content_type.encode()), *SECURITY_HEADERS],
                            _asset(name), head=head)

    async def document_route(self, send: Send, *, head: bool) -> None:
        await send_response(send, 200, [(b"content-type", b"application/json"), *SECURITY_HEADERS],
                            orjson.dumps(self.document()) + b"\n", head=head)

    def document(self) -> dict[str, object]:
        """Rule 2."""
        self.documents_built += 1
        board = self.board
        status = board.as_json()
        status["backend_reachable"] = board.backend_trouble is None
        status["backend_trouble"] = board.backend_trouble
        status["revision_lag"] = max(0, board.backend_revision - board.rendered_revision)
        status["next_full_pass"] = board.next_full_pass_s
        status["membership"] = None if self.membership is None else self.membership()
        status["secrets_shown"] = self.show_secrets
        status["fleet"] = self._fleet()
        for resource in status["resources"]:  # type: ignore[attr-defined]
            resource.update(self._keys_of(str(resource["resource"])))
        return status

    def _fleet(self) -> list[dict[str, object]] | None:
        """Rule 5."""
        summaries = self.board.fleet
        if summaries is None:
            return None
        from confagent.agent._fleet import fleet_rows  # noqa: PLC0415 - loaded already by the publisher

        now_s = time.time()
        return [row.as_json(now_s) for row in fleet_rows(summaries.values())]

    def _keys_of(self, resource: str) -> dict[str, object]:
        reads, view = self.board.reads.get(resource), self.board.view
        if reads is None or view is None:
            return {"keys": [], "keys_more": 0, "prefixes": []}
        inputs = inputs_of(reads, view)
        names = sorted(inputs)
        is_secret = self.history_config.is_secret
        shown = [{"key": key, "value": inputs[key] if self.show_secrets or not is_secret(key) else MASK}
                 for key in names[:KEYS_SHOWN]]
        return {"keys": shown, "keys_more": len(names) - len(shown), "prefixes": list(reads.prefixes)}

    def close(self) -> None:
        """End every open stream (the listener stops)."""
        self._closing.set()

    async def events(self, receive: Receive, send: Send) -> None:
        """Rule 3 and 4."""
        if self._streams >= MAX_STREAMS:
            await send_response(send, 503, [(b"content-type", b"application/json"), *SECURITY_HEADERS],
                                orjson.dumps({"error": f"more than {MAX_STREAMS} pages open"}) + b"\n")
            return
        self._streams += 1
        wake = self.board.watch()
        history = self.board.history
        feed = history.subscribe() if history is not None else None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"), *SECURITY_HEADERS]})
            await self._stream(receive, send, wake, feed)
        finally:
            self._streams -= 1
            self.board.unwatch(wake)
            if history is not None and feed is not None:
                history.unsubscribe(feed)

    async def _stream(self, receive: Receive, send: Send, wake: asyncio.Queue[None],
                      feed: asyncio.Queue[HistoryRecord] | None) -> None:
        async def chunk(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        await chunk(b"retry: 2000\n\n" + sse_event("status", self.document()))
        ends: list[asyncio.Future[Any]] = [asyncio.ensure_future(_disconnected(receive)),
                                           asyncio.ensure_future(self._closing.wait())]
        waits: dict[str, asyncio.Future[Any]] = {}
        try:
            while True:
                if "status" not in waits:  # not setdefault: its argument would start a getter each time
                    waits["status"] = asyncio.ensure_future(wake.get())
                if feed is not None and "record" not in waits:
                    waits["record"] = asyncio.ensure_future(feed.get())
                done, _ = await asyncio.wait([*ends, *waits.values()], timeout=HEARTBEAT_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if any(end in done for end in ends):
                    return
                if not done:
                    await chunk(b": heartbeat\n\n")
                    continue
                if waits["status"] in done:
                    waits.pop("status")
                    await chunk(sse_event("status", self.document()))
                if "record" in waits and waits["record"] in done:
                    record: HistoryRecord = waits.pop("record").result()
                    await chunk(sse_event("record", record.as_json(show_secrets=False)))
        finally:
            for future in [*ends, *waits.values()]:
                future.cancel()
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
