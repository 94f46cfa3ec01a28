"""Thin raw-ASGI plumbing shared by the data port and the management API.

Raw ASGI rather than a framework, as the store's gateway does: ``/self`` is
the hot path, and every layer costs CPU per request (DESIGN.md). Every
response carries ``X-Metad-Requestid`` and ``X-Metad-Version`` (metad's
headers) and its own format's content type.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from urllib.parse import parse_qs

from confagent import asgi
from confagent.asgi import Header, Message, Receive, Scope, Send
from confagent.errors import MetadRequestError
from confagent.metad._formats import Format, error_body, negotiate

__all__ = ["Exchange", "Message", "Receive", "Scope", "Send", "header", "query_flag", "query_int",
           "read_body"]

_REQUEST_IDS = itertools.count(1)


@dataclass(slots=True)
class Exchange:
    """One request and how to answer it: its method, path, query, headers and chosen format."""

    scope: Scope
    send: Send
    fmt: Format
    query: dict[str, list[str]]
    request_id: str

    @classmethod
    def of(cls, scope: Scope, send: Send) -> Exchange:
        accept = header(scope, b"accept") or ""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return cls(scope, send, negotiate(accept), query, f"REQ-{next(_REQUEST_IDS)}")

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    async def respond(self, status: int, body: bytes, version: int, *,
                      content_type: bytes | None = None, extra: tuple[Header, ...] = ()) -> None:
        headers = [
            (b"content-type", content_type or self.fmt.content_type),
            (b"x-metad-requestid", self.request_id.encode()),
            (b"x-metad-version", str(version).encode()),
            *extra,
        ]
        await asgi.send_response(self.send, status, headers, body, head=self.method == "HEAD")

    async def fail(self, status: int, message: str, version: int,
                   extra: tuple[Header, ...] = ()) -> None:
        await self.respond(status, error_body(status, message, self.fmt), version, extra=extra)


def header(scope: Scope, name: bytes) -> str | None:
    """The value of header ``name`` (lower case); several are joined with ``,``."""
    values = [value for key, value in scope["headers"] if key == name]
    return b",".join(values).decode("latin-1") if values else None


def query_flag(query: dict[str, list[str]], name: str) -> bool:
    """True when ``?name=true`` (or ``1``) is given."""
    return query.get(name, [""])[-1].lower() in ("true", "1")


def query_int(query: dict[str, list[str]], name: str) -> int:
    """The non-negative integer ``?name=N`` (0 when absent).

    Raises:
        MetadRequestError: not a non-negative integer.
    """
    text = query.get(name, ["0"])[-1]
    if not text.isdigit() or len(text) > 19:
        raise MetadRequestError(f"{name} must be a non-negative integer, not {text!r}")
    return int(text)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body.

    Raises:
        MetadRequestError: the body is over ``limit`` bytes (the rest is not read).
    """
    return await asgi.read_body(receive, limit,
                                lambda _size: MetadRequestError(f"the body is over {limit} bytes"))
