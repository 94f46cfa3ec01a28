"""One watch over the streamed ``POST /v3/watch``, optionally resumed across broken streams.

Each watch opens its own HTTP stream (HTTP/1.1 cannot add requests to a body
already sent), on the first endpoint that answers by the transport's failover
rules for a read (``_transport``: the one failover of the client). Every
``{"result": ...}`` line becomes a ``Reply[WatchResponse]``; an ``{"error": ...}``
line, or an answer other than 200 that is not "unavailable", becomes a StoreError.

Resuming (``resume=True``): when the stream breaks, a new one is opened (on the
next endpoint that answers) from the first revision not yet delivered, so the
caller sees each event once and in order:

- the ``created`` message of a watch "from now" fixes that revision to the
  header revision + 1 (later streams' ``created`` messages are not yielded);
- an event message moves it past its last event;
- a header-only message (progress) moves it up to its header revision;
- events below it (repeats after a resume) are dropped.

A watch etcd refuses for its auth (a token expired or dropped, a range the
user may not read) is answered 200 with a ``created`` and ``canceled``
message whose ``cancel_reason`` is the refusal's status: that first message
is read as the opening's answer and becomes its error (``InvalidAuthToken``,
``PermissionDenied``, ...), so a signed-in client signs in again and reopens
the stream (``Transport.authorized``), and a refused watch raises.

If the history was compacted meanwhile, etcd cancels the new watch with
``compact_revision``; that canceled response is yielded and the iteration ends,
as it does for any cancel. At most ``RESUMES_MAX`` resumes in a row may fail.

Iterate inside ``contextlib.aclosing`` when leaving the loop early, so the
stream is closed at once rather than by the garbage collector.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import replace

import httpx
import orjson

from confagent.client._transport import Transport, parse_json
from confagent.errors import AuthError, ClientError, store_error_from
from confagent.kv._messages import WatchCreateRequest, WatchResponse
from confagent.wire import Reply, decode_cancel_reason, decode_watch_response, encode_watch_create_request

__all__ = ["RESUMES_MAX", "watch"]

RESUMES_MAX = 10


class _Cursor:
    """The first revision the caller has not seen yet, and which messages to pass on."""

    def __init__(self, start_revision: int) -> None:
        self.next_revision = start_revision
        self.streams = 0

    def admit(self, reply: Reply[WatchResponse]) -> Reply[WatchResponse] | None:
        """The message to yield (repeats removed), or None to skip it."""
        resp = reply.response
        if resp.created and not resp.canceled:
            if self.next_revision == 0:
                self.next_revision = reply.header.revision + 1
            return reply if self.streams == 1 else None
        if resp.events:
            fresh = tuple(e for e in resp.events if e.kv.mod_revision >= self.next_revision)
            if not fresh:
                return None
            self.next_revision = fresh[-1].kv.mod_revision + 1
            return replace(reply, response=replace(resp, events=fresh))
        if not resp.canceled:
            self.next_revision = max(self.next_revision, reply.header.revision)
        return reply


async def watch(
    transport: Transport, request: WatchCreateRequest, *, resume: bool, dial_timeout_s: float
) -> AsyncGenerator[Reply[WatchResponse], None]:
    """Yield the watch's messages until it is canceled (see the module rules).

    Raises:
        StoreError: the server refused the watch.
        ClientError: no endpoint answered, or the stream broke and ``resume`` is off
            (or ``RESUMES_MAX`` resumes in a row failed).
    """
    cursor = _Cursor(request.start_revision)
    failures = 0
    while True:
        cursor.streams += 1
        current = replace(request, start_revision=cursor.next_revision)
        try:
            async with aclosing(_stream(transport, current, dial_timeout_s)) as replies:
                async for reply in replies:
                    failures = 0
                    admitted = cursor.admit(reply)
                    if admitted is not None:
                        yield admitted
                    if reply.response.canceled:
                        return
            broken = ClientError("the watch stream ended")
        except ClientError as error:
            broken = error
        failures += 1
        if not resume or failures > RESUMES_MAX:
            raise broken


async def _stream(
    transport: Transport, request: WatchCreateRequest, dial_timeout_s: float
) -> AsyncGenerator[Reply[WatchResponse], None]:
    """One stream, opened on the first endpoint that answers (the transport's failover)."""
    body = orjson.dumps(encode_watch_create_request(request))
    endpoint, response, lines, first = await transport.authorized(
        lambda: _open(transport, body, dial_timeout_s))
    try:
        if first is not None:
            yield first
            while (reply := await _next_message(lines, endpoint)) is not None:
                yield reply
    finally:
        await response.aclose()


_Opened = tuple[str, httpx.Response, AsyncIterator[str], Reply[WatchResponse] | None]


async def _open(transport: Transport, body: bytes, dial_timeout_s: float) -> _Opened:
    """The stream and its first message (None: it ended before one); an auth refusal raised
    (module docstring)."""
    endpoint, response = await transport.post("/v3/watch", body, retry_safe=True, stream=True,
                                              timeout=httpx.Timeout(None, connect=dial_timeout_s))
    lines = response.aiter_lines()
    try:
        first = await _next_message(lines, endpoint)
        if first is not None and first.response.canceled:
            refusal = decode_cancel_reason(first.response.cancel_reason)
            if isinstance(refusal, AuthError):
                raise refusal
    except BaseException:
        await response.aclose()
        raise
    return endpoint, response, lines, first


async def _next_message(lines: AsyncIterator[str], endpoint: str) -> Reply[WatchResponse] | None:
    """The stream's next message; None when it ended."""
    try:
        async for line in lines:
            if line.strip():
                return _message(line, endpoint)
    except httpx.TransportError as error:
        raise ClientError(f"{endpoint}: the watch stream broke: {error!r}") from error
    return None


def _message(line: str, endpoint: str) -> Reply[WatchResponse]:
    d = parse_json(line.encode(), endpoint)
    if "error" in d:
        error = d["error"]
        raise store_error_from(int(error.get("grpc_code", 2)), str(error.get("message", "")))
    try:
        return decode_watch_response(d["result"])
    except (KeyError, TypeError, ValueError) as error:
        raise ClientError(f"{endpoint}: a malformed watch message: {line[:200]}") from error
