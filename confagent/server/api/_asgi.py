"""Thin ASGI plumbing for the gateway: bounded body reads and the responses etcd's gateway sends.

The raw ASGI helpers are ``confagent.asgi``'s; what is the gateway's own is
here: etcd's CORS and gRPC metadata headers, and ``BodyTooLarge``.
"""

from __future__ import annotations

from confagent import asgi
from confagent.asgi import Message, Receive, Scope, Send

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
    """The whole request body, refusing to buffer more than ``limit`` bytes.

    Raises:
        BodyTooLarge: the body is over ``limit`` bytes (the rest is not read).
    """
    return await asgi.read_body(receive, limit, BodyTooLarge)


async def send_bytes(send: Send, status: int, body: bytes, *,
                     content_type: bytes | None = JSON) -> None:
    """A whole response; successful JSON ones carry the gateway's gRPC metadata header, as etcd's do
    (its errors do not: they end with a gRPC trailer instead, which an HTTP/1.1 client never reads)."""
    headers = list(_CORS)
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if content_type == JSON and status == 200:
        headers.extend(_GRPC)
    await asgi.send_response(send, status, headers, body)


async def start_stream(send: Send, content_type: bytes = b"application/json") -> None:
    """Begin a chunked 200 response (watch, keepalive); bodies follow with more_body=True."""
    headers = [(b"content-type", content_type), *_CORS, *_GRPC]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
