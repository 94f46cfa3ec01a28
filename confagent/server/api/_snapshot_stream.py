"""The snapshot stream: what ``POST /v3/maintenance/snapshot`` sends.

The bytes are a saved snapshot (``confagent.server.storage._saved_snapshot``:
the format ``snapshot save`` writes). The gateway sends them as etcd 3.4's
gateway does (recorded from etcd 3.4.23): one
``{"result":{"remaining_bytes":"N","blob":"<base64>"}}`` line per ``CHUNK_BYTES`` of
the snapshot, ``remaining_bytes`` counting what is left after that chunk and left out
when zero (the last chunk), then ``{"result":{"blob":"<base64 sha256>"}}``. No header.

Rules:

1. The snapshot is taken in one step of the event loop (``StoreNode.snapshot_now``),
   so its payload, index, revision and key count describe one applied state; the
   encoding and hashing then run in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from confagent import wire
from confagent.errors import ResourceExhausted, StoreError
from confagent.server.api._asgi import BodyTooLarge, Receive, Send, read_body, send_bytes, start_stream
from confagent.server.node import StoreNode
from confagent.server.storage import SnapshotImage, encode_with_digest

__all__ = ["CHUNK_BYTES", "SnapshotStream", "snapshot_pieces", "stream_lines", "take_image"]

CHUNK_BYTES = 32 * 1024
"""Bytes of snapshot per stream message (etcd's ``snapshotSendBufferSize``)."""

REQUEST_LIMIT_BYTES = 64 * 1024
"""The snapshot request is an empty object; a body past this is refused unread."""


def take_image(node: StoreNode) -> SnapshotImage:
    """The node's applied state, taken without yielding to the event loop (rule 1)."""
    meta, data = node.snapshot_now()
    return SnapshotImage(meta, node.kv.revision, node.kv.key_count(), data)


def snapshot_pieces(body: bytes, digest: bytes) -> Iterator[tuple[int, bytes]]:
    """What a snapshot stream sends, both fronts' (module doc): ``(remaining_bytes, blob)`` for each
    ``CHUNK_BYTES`` of ``body``, counting what follows that chunk, then ``(0, digest)``."""
    for start in range(0, len(body), CHUNK_BYTES):
        chunk = body[start:start + CHUNK_BYTES]
        yield len(body) - start - len(chunk), chunk
    yield 0, digest


def stream_lines(body: bytes, digest: bytes) -> Iterator[bytes]:
    """The gateway's lines for ``body`` and its ``digest`` (module doc)."""
    for remaining, blob in snapshot_pieces(body, digest):
        result = {"remaining_bytes": str(remaining), "blob": wire.b64(blob)} if remaining \
            else {"blob": wire.b64(blob)}
        yield wire.encode_stream_chunk(result)


class SnapshotStream:
    """``POST /v3/maintenance/snapshot``: the member's snapshot, streamed (module doc)."""

    def __init__(self, image: Callable[[], SnapshotImage]) -> None:
        """``image`` takes the state to send (``Handling.snapshot_image``: root wanted)."""
        self._image = image

    async def __call__(self, receive: Receive, send: Send) -> None:
        try:
            wire.loads(await read_body(receive, REQUEST_LIMIT_BYTES))
        except BodyTooLarge as too_large:
            refusal = ResourceExhausted(f"grpc: received message larger than max "
                                        f"({too_large.size} vs. {REQUEST_LIMIT_BYTES})")
            await send_bytes(send, refusal.http_status, wire.encode_error_body(refusal))
            return
        except StoreError as error:
            await send_bytes(send, error.http_status, wire.encode_error_body(error))
            return
        try:
            image = self._image()
        except StoreError as error:
            await send_bytes(send, error.http_status, wire.encode_error_body(error))
            return
        body, digest = await asyncio.to_thread(encode_with_digest, image)
        await start_stream(send)
        for line in stream_lines(body, digest):
            await send({"type": "http.response.body", "body": line, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
