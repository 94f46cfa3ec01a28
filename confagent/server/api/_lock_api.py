"""The gateway's ``/v3/lock/*`` and ``/v3/election/*`` paths, as etcd 3.4's gateway serves them.

A thin front over the member's ``ConcurrencyServices``: decode the body
(``wire``'s lock codec), call the service, fill the header with the revision
it answered at. The services' refusals are ``ConcurrencyError`` (code 2, HTTP
500), which the gateway answers like any store error.

Rules (recorded from etcd 3.4.23):
1. Lock and Campaign wait for their turn; a client that disconnects meanwhile
   cancels its call (``WAITING_PATHS``, run by ``while_connected``), and the
   service lets go of its key.
2. ``/v3/election/observe`` is a server stream: one ``{"result":{...}}`` line per
   LeaderResponse. Its response starts with its first message (etcd's gateway
   sends no header before), and it ends when the client leaves or the member
   stops (``close``). A body that does not decode is a plain error (HTTP 400).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, TypeVar

from confagent import wire
from confagent.errors import StoreError
from confagent.kv import KeyValue
from confagent.server.api._asgi import BodyTooLarge, Receive, Send, read_body, send_bytes, start_stream
from confagent.server.api._handling import Handling

__all__ = ["WAITING_PATHS", "ClientLeft", "LockApi", "while_connected"]

Json = dict[str, Any]
T = TypeVar("T")
UnaryHandler = Callable[[bytes], Awaitable[Json]]
HeaderFactory = Callable[[int | None], Json]

WAITING_PATHS: Final = frozenset({"/v3/lock/lock", "/v3/election/campaign"})
"""The calls that wait for a turn, cancelled when their client leaves (rule 1)."""
OBSERVE_BODY_LIMIT_BYTES = 64 * 1024
"""An observe request is a name; a body past this is refused unread."""


class ClientLeft(Exception):
    """The client disconnected before the answer: nothing is to be sent."""


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def while_connected(receive: Receive, call: Awaitable[T]) -> T:
    """``call``'s result, cancelling it if the client disconnects first (its body already read).

    Raises:
        ClientLeft: the client disconnected; ``call`` was cancelled and has ended.
    """
    task = asyncio.ensure_future(call)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
    if task.cancelled():
        raise ClientLeft()
    return task.result()


class LockApi:
    """The lock and election handlers of one member's gateway (module rules)."""

    def __init__(self, handling: Handling, header: HeaderFactory) -> None:
        self._lock = handling.lock
        self._election = handling.election
        self._header = header
        self._closing = asyncio.Event()

    def handlers(self) -> dict[str, UnaryHandler]:
        return {
            "/v3/lock/lock": self.lock,
            "/v3/lock/unlock": self.unlock,
            "/v3/election/campaign": self.campaign,
            "/v3/election/proclaim": self.proclaim,
            "/v3/election/leader": self.leader,
            "/v3/election/resign": self.resign,
        }

    def close(self) -> None:
        """End every observe stream (the member is stopping)."""
        self._closing.set()

    async def lock(self, body: bytes) -> Json:
        revision, key = await self._lock.lock(wire.decode_body(body, wire.decode_lock_request))
        return wire.encode_lock_response(key, self._header(revision))

    async def unlock(self, body: bytes) -> Json:
        revision = await self._lock.unlock(wire.decode_body(body, wire.decode_unlock_request))
        return {"header": self._header(revision)}

    async def campaign(self, body: bytes) -> Json:
        request = wire.decode_body(body, wire.decode_campaign_request)
        revision, leader = await self._election.campaign(request)
        return wire.encode_campaign_response(leader, self._header(revision))

    async def proclaim(self, body: bytes) -> Json:
        revision = await self._election.proclaim(wire.decode_body(body, wire.decode_proclaim_request))
        return {"header": self._header(revision)}

    async def leader(self, body: bytes) -> Json:
        revision, kv = await self._election.leader(wire.decode_body(body, wire.decode_leader_request))
        return wire.encode_leader_response(kv, self._header(revision))

    async def resign(self, body: bytes) -> Json:
        revision = await self._election.resign(wire.decode_body(body, wire.decode_resign_request))
        return {"header": self._header(revision)}

    async def observe(self, receive: Receive, send: Send) -> None:
        """``POST /v3/election/observe`` (rule 2)."""
        try:
            body = await read_body(receive, OBSERVE_BODY_LIMIT_BYTES)
            name = wire.decode_body(body, wire.decode_leader_request)
        except BodyTooLarge:
            await send_bytes(send, 400, wire.encode_error_body(StoreError("request body too large")))
            return
        except StoreError as error:
            await send_bytes(send, error.http_status, wire.encode_error_body(error))
            return
        stream = _LeaderStream(send, self._header)
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await while_connected(receive, _first(stream.run(self._election.observe(name)), closing))
        except ClientLeft:
            return
        except StoreError as error:
            if not self._closing.is_set():  # else the member is stopping: its services end too
                await stream.fail(error)
                return
        finally:
            closing.cancel()
        await stream.end()


class _LeaderStream:
    """One observe stream's response: started by its first message (rule 2)."""

    def __init__(self, send: Send, header: HeaderFactory) -> None:
        self._send = send
        self._header = header
        self._started = False

    async def run(self, leaders: AsyncIterator[tuple[int, KeyValue]]) -> None:
        async for revision, kv in leaders:
            if not self._started:
                await start_stream(self._send)
                self._started = True
            line = wire.encode_stream_chunk(wire.encode_leader_response(kv, self._header(revision)))
            await self._send({"type": "http.response.body", "body": line, "more_body": True})

    async def fail(self, error: StoreError) -> None:
        if not self._started:
            await send_bytes(self._send, error.http_status, wire.encode_error_body(error))
            return
        await self._send({"type": "http.response.body", "body": wire.encode_stream_error(error),
                          "more_body": False})

    async def end(self) -> None:
        if not self._started:
            await start_stream(self._send)
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def _first(call: Awaitable[None], stop: asyncio.Future[Any]) -> None:
    """Run ``call`` until it ends or ``stop`` is done, whichever comes first (then it is cancelled)."""
    task = asyncio.ensure_future(call)
    try:
        await asyncio.wait((task, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
    if not task.cancelled():
        task.result()
