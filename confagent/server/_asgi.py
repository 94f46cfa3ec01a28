"""Thin ASGI plumbing for the gateway: bounded body reads and the responses etcd's gateway sends.

Raw ASGI rather than a framework: the put path is the hot path, and every
layer costs CPU per request (see DESIGN.md, "What the hot path costs").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "BodyTooLarge",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "read_body",
    "send_bytes",
    "start_stream",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, GET, OPTIONS, PUT, DELETE"),
    (b"access-control-allow-headers", b"accept, content-type, authorization"),
]
_GRPC = [(b"grpc-metadata-content-type", b"application/grpc")]
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"


class BodyTooLarge(Exception):
    """The request body passed the read limit; ``size`` is what arrived before we stopped."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing to buffer more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_bytes(send: Send, status: int, body: bytes, *,
                     content_type: bytes | None = JSON) -> None:
    """A whole response; JSON ones carry the gateway's gRPC metadata header, as etcd's do."""
    headers = [*_CORS, (b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if content_type == JSON:
        headers.extend(_GRPC)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, content_type: bytes = b"application/json") -> None:
    """Begin a chunked 200 response (watch, keepalive); bodies follow with more_body=True."""
    headers = [(b"content-type", content_type), *_CORS, *_GRPC]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
