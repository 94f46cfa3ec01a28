"""Raw ASGI, shared by every HTTP face of confagent: the type aliases, a bounded body read, a whole response.

Raw ASGI rather than a framework: the store's put path and metad's ``/self``
are hot paths, and every layer costs CPU per request (DESIGN.md, "What the
hot path costs"). What each face adds to a response (etcd's gateway headers,
metad's request ID) stays with that face; this module knows none of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Header", "Message", "Receive", "Scope", "Send", "read_body", "send_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Header = tuple[bytes, bytes]
"""A response header: lower-case name, value."""


async def read_body(receive: Receive, limit: int, too_large: Callable[[int], Exception]) -> bytes:
    """The whole request body, refusing to buffer more than ``limit`` bytes.

    Args:
        too_large: builds the error to raise from the number of bytes that had
            arrived when the limit was passed (the rest is not read).

    Raises:
        Exception: ``too_large(size)``, the body is over ``limit`` bytes.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_response(send: Send, status: int, headers: Iterable[Header], body: bytes, *,
                        head: bool = False) -> None:
    """A whole response: ``headers`` then ``content-length``, and ``body`` unless it answers a HEAD."""
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
