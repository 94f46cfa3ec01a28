"""etcd 3.4's gRPC streaming methods: Watch, LeaseKeepAlive, Snapshot, Observe and the health Watch.

Each is a ``StreamHandler`` of the front (``_grpc_front.Call``: request messages
in, response messages out) over what the JSON gateway's streams use: a
``WatchStream`` in the node's fan-out, the node's keep-alive, the saved
snapshot's chunks, the election service's observe.

Rules (etcd 3.4.23's ``v3rpc``):
1. A learner refuses every stream before reading it (etcd's stream
   interceptor): "etcdserver: rpc not supported for learner", code 14.
2. Watch: one stream carries many watches; a client that half-closes keeps
   its watches until it cancels the call. A response larger than the request
   limit (``--max-request-bytes``) for a watch created with ``fragment`` is
   sent in pieces (etcd's ``sendFragments``): each piece at least one event,
   under the limit where it can be, all but the last marked ``fragment``.
   Watches asking for progress get it every ``progress_interval_s``.
3. LeaseKeepAlive answers each request with the lease's TTL (0 once gone); the
   call ends when the client half-closes.
4. Snapshot sends the saved snapshot in ``CHUNK_BYTES`` pieces, each naming the
   bytes that follow it, then its SHA-256 as a last message, as the gateway does;
   no message carries a header (etcd's carry none).
5. A server stream's request is its first message; a client that half-closes
   without one gets grpc-go's UNKNOWN "EOF".
6. A malformed message, the first of a server stream's included, ends the call
   with INTERNAL in grpc-go's words for a stream's message ("grpc: failed to
   unmarshal the received message ..."), not a unary request's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import TypeVar

from confagent import wire
from confagent.errors import GrpcStatus, Internal, NotSupportedForLearner
from confagent.kv import MAX_REQUEST_BYTES, WatchResponse
from confagent.server.api._grpc_front import Call, StreamHandler
from confagent.server.api._handling import Handling
from confagent.server.api._snapshot_stream import snapshot_pieces
from confagent.server.api._watch_stream import Outgoing, WatchStream
from confagent.server.storage import encode_with_digest
from confagent.wire import ResponseHeader

__all__ = ["GrpcStreams", "fragments"]

SERVING, SERVICE_UNKNOWN = 1, 3
"""grpc.health.v1's ServingStatus numbers the health service answers with."""
UNKNOWN = 2
"""The gRPC status grpc-go gives an error of no status of its own (the stream's io.EOF)."""
_UNARY_WORDS = "grpc: error unmarshalling request: "
_STREAM_WORDS = "grpc: failed to unmarshal the received message "
T = TypeVar("T")


class GrpcStreams:
    """The streaming methods of one member (module rules)."""

    def __init__(self, handling: Handling, progress_interval_s: float,
                 max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.h = handling
        self._progress_interval_s = progress_interval_s
        self._max_request_bytes = max_request_bytes

    def handlers(self) -> dict[str, StreamHandler]:
        methods: dict[str, StreamHandler] = {
            "/etcdserverpb.Watch/Watch": self.watch,
            "/etcdserverpb.Lease/LeaseKeepAlive": self.keep_alive,
            "/etcdserverpb.Maintenance/Snapshot": self.snapshot,
            "/v3electionpb.Election/Observe": self.observe,
            "/grpc.health.v1.Health/Watch": self.health_watch,
        }
        return {path: self._for_voters(handler) for path, handler in methods.items()}

    def _for_voters(self, handler: StreamHandler) -> StreamHandler:
        node = self.h.node

        async def serve(call: Call) -> None:
            if node.is_learner:
                raise NotSupportedForLearner()  # rule 1
            await handler(call)
        return serve

    # -- Watch ----------------------------------------------------------------------------
    async def watch(self, call: Call) -> None:
        node = self.h.node
        stream = WatchStream(node.watches, lambda: node.kv.revision, guard=self.h.watch_guard)
        writer = asyncio.create_task(self._write_watch(stream, call))
        progress = asyncio.create_task(self._progress(stream))
        try:
            while (message := await call.read()) is not None:
                request = _parsed(wire.pb_decode_watch_request, message)
                if request is not None:
                    stream.handle(request)
            await writer  # the client half-closed: deliver until it leaves (rule 2)
        finally:
            stream.close()
            for task in (writer, progress):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _write_watch(self, stream: WatchStream, call: Call) -> None:
        while True:
            for out in await stream.next_batch():
                header = self._watch_header(out)
                wants_fragments = stream.wants_fragments(out.response.watch_id)
                for piece in fragments(out.response, header, self._max_request_bytes) if wants_fragments \
                        else (wire.pb_encode_watch_response(out.response, header),):
                    await call.send(piece)

    def _watch_header(self, out: Outgoing) -> ResponseHeader:
        header = self.h.header(out.header_revision or None)
        if out.header_revision is None:  # a compaction's cancel names no revision
            header = dataclasses.replace(header, revision=0)
        return header

    async def _progress(self, stream: WatchStream) -> None:
        while True:
            await asyncio.sleep(self._progress_interval_s)
            stream.progress()

    # -- LeaseKeepAlive, Snapshot, Observe, health Watch ------------------------------------
    async def keep_alive(self, call: Call) -> None:
        while (message := await call.read()) is not None:
            lease_id = _parsed(wire.pb_decode_lease_id, message)
            ttl, header = await self.h.keep_alive(lease_id)
            await call.send(wire.pb_encode_lease_keepalive_response(header, lease_id, ttl))

    async def snapshot(self, call: Call) -> None:
        _parsed(wire.pb_decode_empty_request, await _request(call))
        body, digest = await asyncio.to_thread(encode_with_digest, self.h.snapshot_image())
        for remaining, blob in snapshot_pieces(body, digest):
            await call.send(wire.pb_encode_snapshot_response(remaining, blob))

    async def observe(self, call: Call) -> None:
        name = _parsed(wire.pb_decode_leader_request, await _request(call))
        async for kv, header in self.h.observe(name):
            await call.send(wire.pb_encode_leader_response(kv, header))

    async def health_watch(self, call: Call) -> None:
        """grpc-go's health Watch: the status now, then nothing until the client leaves."""
        service = _parsed(wire.pb_decode_health_check_request, await _request(call))
        await call.send(wire.pb_encode_health_check_response(SERVICE_UNKNOWN if service else SERVING))
        await asyncio.Event().wait()


def _parsed(decode: Callable[[bytes], T], message: bytes) -> T:
    """``decode(message)``; a malformed message is refused in grpc-go's words for a stream's (rule 6)."""
    try:
        return decode(message)
    except Internal as error:
        raise Internal(error.message.replace(_UNARY_WORDS, _STREAM_WORDS, 1)) from None


async def _request(call: Call) -> bytes:
    """A server stream's one request message (rule 5)."""
    message = await call.read()
    if message is None:
        raise GrpcStatus(UNKNOWN, "EOF")
    return message


def fragments(response: WatchResponse, header: ResponseHeader, limit: int) -> Iterator[bytes]:
    """``response`` encoded in pieces under ``limit`` bytes where it can be (rule 2).

    A repeated field's entries follow one another on the wire, so a piece's size is its
    message without events plus each event's own size, measured once.
    """
    whole = wire.pb_encode_watch_response(response, header)
    events = response.events
    if len(whole) < limit or len(events) < 2:
        yield whole
        return
    bare = len(wire.pb_encode_watch_response(dataclasses.replace(response, events=(), fragment=True), header))
    without = len(wire.pb_encode_watch_response(dataclasses.replace(response, events=()), header))
    sizes = [len(wire.pb_encode_watch_response(dataclasses.replace(response, events=(event,)), header))
             - without for event in events]
    start = 0
    while start < len(events):
        end, size = start + 1, bare + sizes[start]
        while end < len(events) and size + sizes[end] < limit:
            size += sizes[end]
            end += 1
        piece = dataclasses.replace(response, events=events[start:end], fragment=end < len(events))
        yield wire.pb_encode_watch_response(piece, header)
        start = end
