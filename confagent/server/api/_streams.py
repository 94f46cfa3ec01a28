"""The two streaming RPCs of the gateway: ``/v3/watch`` and ``/v3/lease/keepalive``.

A stream's request body is a sequence of JSON objects, concatenated with or
without newlines; each is handled as it arrives. Each reply is one line,
``{"result":{...}}\\n``, in a chunked response. If the first object cannot be
decoded the reply is a plain error with HTTP 500 and gRPC code 2, as etcd's
gateway answers; a later bad object ends the stream with ``{"error":{...}}``.
When the member stops, ``close()`` ends every open stream's response, so the
HTTP server's graceful shutdown does not wait on clients that never leave.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from confagent import wire
from confagent.errors import StoreError
from confagent.server.api._asgi import Message, Receive, Send, send_bytes, start_stream
from confagent.server.api._watch_stream import Outgoing, WatchGuard, WatchStream
from confagent.server.node import StoreNode

__all__ = ["JsonObjectSplitter", "StreamHandlers"]

Json = dict[str, Any]
T = TypeVar("T")
HeaderFactory = Callable[[int | None], Json]
StreamHandler = Callable[[Receive, Send], Awaitable[None]]

MAX_STREAM_OBJECT_BYTES = 2 * 1024 * 1024
"""The largest single request object accepted on a stream."""


class JsonObjectSplitter:
    """Splits a byte stream of concatenated JSON objects into one ``bytes`` per object."""

    def __init__(self, limit: int = MAX_STREAM_OBJECT_BYTES) -> None:
        self._buffer = bytearray()
        self._limit = limit
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._scanned = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer.extend(data)
        found: list[bytes] = []
        start = 0
        for i in range(self._scanned, len(self._buffer)):
            if self._step(self._buffer[i]) and self._depth == 0:
                found.append(bytes(self._buffer[start:i + 1]).strip())
                start = i + 1
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        if len(self._buffer) > self._limit:
            raise StoreError("grpc: received message larger than max")
        return found

    def rest(self) -> bytes:
        """What is left when the body ends (non-empty means a truncated object)."""
        return bytes(self._buffer).strip()

    def _step(self, byte: int) -> bool:
        """Scan one byte; True when it closes a top-level value."""
        if self._in_string:
            if self._escaped:
                self._escaped = False
            elif byte == 0x5C:  # backslash
                self._escaped = True
            elif byte == 0x22:  # quote
                self._in_string = False
            return False
        if byte == 0x22:
            self._in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            self._depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            self._depth -= 1
            return True
        return False


async def _next_message(receive: Receive, closing: asyncio.Event) -> Message | None:
    """The next ASGI message, or None once ``closing`` is set."""
    if closing.is_set():
        return None
    message = asyncio.ensure_future(receive())
    closed = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait((message, closed), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in (message, closed):
            future.cancel()
    return message.result() if message.done() and not message.cancelled() else None


async def _request_objects(receive: Receive, closing: asyncio.Event) -> AsyncIterator[bytes | None]:
    """Each complete object of the request body; None once the body has ended; the
    iteration ends when the client disconnects or the member closes its streams."""
    splitter = JsonObjectSplitter()
    body_open = True
    while True:
        message = await _next_message(receive, closing)
        if message is None or message["type"] == "http.disconnect":
            return
        if not body_open:
            continue
        for obj in splitter.feed(message.get("body", b"")):
            yield obj
        if not message.get("more_body", False):
            body_open = False
            rest = splitter.rest()
            if rest:
                yield rest
            yield None


def _decode_stream_message(obj: bytes, decoder: Callable[[Json], T]) -> T:
    """A stream message's request; undecodable ones get gRPC code 2, as the gateway answers."""
    try:
        return decoder(wire.loads(obj))
    except StoreError as error:
        error.code = 2
        raise


class StreamHandlers:
    """Handlers of the streaming paths, looked up by path like the unary ones."""

    def __init__(self, node: StoreNode, header: HeaderFactory, progress_interval_s: float,
                 guard: WatchGuard) -> None:
        self._node = node
        self._guard = guard
        self._header = header
        self._progress_interval_s = progress_interval_s
        self._closing = asyncio.Event()
        self._paths: dict[str, StreamHandler] = {
            "/v3/watch": self.watch,
            "/v3/lease/keepalive": self.keep_alive,
        }

    def get(self, path: str) -> StreamHandler | None:
        return self._paths.get(path)

    def close(self) -> None:
        """End every open stream (the member is stopping) and refuse none: new ones end at once."""
        self._closing.set()

    @staticmethod
    async def _end_stream(send: Send) -> None:
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def watch(self, receive: Receive, send: Send) -> None:
        objects = _request_objects(receive, self._closing)
        stream = WatchStream(self._node.watches, lambda: self._node.kv.revision, guard=self._guard)
        first = await anext(objects, None)
        try:
            request = _decode_stream_message(first, wire.decode_watch_request) if first is not None else None
        except StoreError as error:
            await self._fail_stream(send, error, started=False)
            return
        if request is not None:
            stream.handle(request)
        await start_stream(send)
        writer = asyncio.create_task(self._write_watch(stream, send))
        progress = asyncio.create_task(self._progress(stream))
        try:
            await self._read_watch(objects, stream, send, writer)
        finally:
            stream.close()
            for task in (writer, progress):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
        if self._closing.is_set():
            await self._end_stream(send)

    async def _read_watch(self, objects: AsyncIterator[bytes | None], stream: WatchStream,
                          send: Send, writer: asyncio.Task[None]) -> None:
        async for obj in objects:
            if obj is None:
                continue  # the body ended; the stream stays open until the client leaves
            try:
                request = _decode_stream_message(obj, wire.decode_watch_request)
            except StoreError as error:
                writer.cancel()
                await self._fail_stream(send, error, started=True)
                return
            if request is not None:
                stream.handle(request)
        # the client disconnected or the member is stopping: stop writing

    async def _write_watch(self, stream: WatchStream, send: Send) -> None:
        while True:
            batch = await stream.next_batch()
            body = b"".join(self._render(out) for out in batch)
            await send({"type": "http.response.body", "body": body, "more_body": True})

    def _render(self, out: Outgoing) -> bytes:
        if out.header_revision is None:
            header = self._header(None)
            header.pop("revision", None)
        else:
            header = self._header(out.header_revision or None)
        return wire.encode_stream_chunk(wire.encode_watch_response(out.response, header))

    async def _progress(self, stream: WatchStream) -> None:
        while True:
            await asyncio.sleep(self._progress_interval_s)
            stream.progress()

    async def keep_alive(self, receive: Receive, send: Send) -> None:
        started = False
        async for obj in _request_objects(receive, self._closing):
            if obj is None:
                break
            try:
                reply = await self._keep_alive_reply(obj)
            except StoreError as error:
                await self._fail_stream(send, error, started)
                return
            if not started:
                await start_stream(send)
                started = True
            await send({"type": "http.response.body", "body": wire.encode_stream_chunk(reply),
                        "more_body": True})
        if not started:
            await start_stream(send)
        await self._end_stream(send)

    async def _keep_alive_reply(self, obj: bytes) -> Json:
        lease_id = _decode_stream_message(obj, wire.decode_lease_id)
        ttl = await self._node.keep_alive(lease_id)
        return wire.encode_lease_keepalive_response(self._header(None), lease_id, ttl)

    @staticmethod
    async def _fail_stream(send: Send, error: StoreError, started: bool) -> None:
        """A plain error before the stream started; the gateway's in-stream error after."""
        if not started:
            await send_bytes(send, error.http_status, wire.encode_error_body(error))
            return
        await send({"type": "http.response.body", "body": wire.encode_stream_error(error),
                    "more_body": False})
