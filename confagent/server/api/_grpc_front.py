"""etcd's gRPC transport on a client socket: HTTP/2 connections, their calls and streams.

This module knows only the transport; what it serves is a table of
handlers by method path (``_grpc_services``, ``_grpc_streams``). Chosen over
the h2 library in the same asyncio server by ``bench/grpc_bench.py``
(bench/README.md, "etcd's gRPC API: how gRPC shares the client port").

Rules:
1. A connection is handed over whole once its first bytes or ALPN chose HTTP/2
   (``_port_protocol``); it is gRPC only, over zttp's sans-IO HTTP/2 codec
   (frames, HPACK, flow control, SETTINGS and PING acks, its flood limits).
2. One call per stream. A message is gRPC's 5-byte prefix (compressed flag,
   big-endian length) and its bytes; an answer is HEADERS (200,
   ``application/grpc``, or ``+`` the subtype the call named), its messages,
   then trailers with ``grpc-status`` and ``grpc-message`` (percent-encoded;
   empty on success, as grpc-go's); an error before any message is a
   trailers-only answer. A request that is no gRPC call (another
   ``content-type``, a malformed ``grpc-timeout``) has its stream reset
   (PROTOCOL_ERROR), as grpc-go's transport does. A unary call reads its first message
   (later ones go unread); one whose client ends without a whole message is
   UNKNOWN "EOF" or "unexpected EOF", grpc-go's status for the read; a
   streaming call's client that ends half-way through a message gets
   INTERNAL "unexpected EOF". No
   compression is installed: a call
   naming one (``grpc-encoding``) is refused as grpc-go refuses it, after the
   method is found and before any message is read.
3. Bytes leave once per loop turn: every reply finished in a turn goes out in
   one write (``_schedule_flush``); the answer that ends the connection's last
   call in flight leaves at once, as there is nothing to wait for (a lone
   client's put answered a loop turn sooner), and so does a unary answer of
   ``FLUSH_AT_ONCE_BYTES`` or more, which a client can decode while the next
   ones are made (a one-shot's reads answered in one turn, after one barrier).
   A unary call is answered through an :class:`~confagent.server.node.Answer`
   its handler is given: a write's is given in the step that applies its
   entry, so its answer is written from there, the call's task long ended
   (``_grpc_services``).
4. Limits: a message declaring more than ``max_message_bytes`` is refused
   (RESOURCE_EXHAUSTED) before it is buffered; a streaming call's unsent
   replies are bounded (``Call.send`` waits while more than
   ``MAX_PENDING_BYTES`` wait for flow-control credit); zttp refuses more
   than 128 concurrent streams per connection and closes one (GOAWAY
   ENHANCE_YOUR_CALM) past 4096 streams or 256 resets in its life, so the
   front says GOAWAY (NO_ERROR) first, at ``STREAM_BUDGET`` or
   ``RESET_BUDGET``: a client moves to a new connection without losing a
   call, as after grpc-go's MaxConnectionAge.
5. A call's task is cancelled when its stream is reset, its connection is
   lost, or its ``grpc-timeout`` passes (answered DEADLINE_EXCEEDED).
6. ``shutdown()`` (the listener stopping): GOAWAY, streaming calls end with
   UNAVAILABLE, unary calls finish, then the connection closes.
7. A connection that went away closes gently: its last bytes sent, then a
   PING; once the client acknowledges it (it has read every answer before it)
   the front half-closes (where the transport can); it reads and drops what
   still comes until the client closes, at most ``CLOSE_GRACE_S``. Closing a
   socket with unread bytes makes the kernel reset it, and a reset can drop the
   answers the client has not read yet (a client that sent a call before it saw
   the GOAWAY lost the calls answered just before); a half-close read before
   the answers can fail them too (grpcio then says "Socket closed").
8. Who calls: a call's task runs with ``node's CALLER`` set to the token its
   metadata carried (``token``, else ``authorization``) and the common name of the
   connection's client certificate, if any (on HTTP/1.1: ``_port_protocol`` rule 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import Any

import structlog
import zttp
from uvicorn.server import ServerState

from confagent.errors import GrpcStatus, Stopped, StoreError
from confagent.http_listener import client_common_name
from confagent.server.api._limits import MAX_RECEIVE_BYTES, message_too_large
from confagent.server.node import CALLER, Answer, Caller

__all__ = ["Call", "GrpcMethods", "Http2Grpc"]

log = structlog.get_logger("confagent.store.grpc")

STREAM_BUDGET = 3072
"""Streams a connection serves before the front asks the client to move (zttp's own limit: 4096)."""
CLOSE_GRACE_S = 2.0
"""How long a connection that went away waits for its client to close it (rule 7)."""
RESET_BUDGET = 192
"""Streams the client may reset on a connection before the front asks it to move (zttp's: 256)."""
MAX_PENDING_BYTES = 4 * 1024 * 1024
"""A streaming call's replies waiting for flow-control credit before ``Call.send`` waits."""
FLUSH_AT_ONCE_BYTES = 256 * 1024
"""A unary answer this large is written at once, not at the end of the loop turn (rule 3): its
encoding took long enough that the client had better start on it."""

UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL = 2, 4, 8, 12, 13
"""gRPC status codes the front gives itself; handlers' come with their ``StoreError``."""
PROTOCOL_ERROR = 1
"""HTTP/2's error code of a reset stream whose request is no gRPC call."""
Headers = list[tuple[bytes, bytes]]
_HEADERS: Headers = [(b"content-type", b"application/grpc")]
"""An answer's headers when the call named no content subtype (``_call_headers``)."""
_OK_TRAILERS = [(b"grpc-status", b"0"), (b"grpc-message", b"")]
"""grpc-go's trailers of a call that succeeded: its message empty, not absent."""
_DRAIN_PING_DATA = b"draining"
_DRAIN_PING = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + _DRAIN_PING_DATA
"""The PING a connection going away sends after its last frames (rule 7): 8 bytes on stream 0."""
_TIMEOUT_UNITS = {b"H": 3600.0, b"M": 60.0, b"S": 1.0, b"m": 1e-3, b"u": 1e-6, b"n": 1e-9}

UnaryHandler = Callable[[bytes, Answer[bytes]], Awaitable[None]]
"""A unary method: the request message in; the response message given to the answer, now or later
(rule 3); a ``StoreError`` raised or given is its status."""
StreamHandler = Callable[["Call"], Awaitable[None]]
"""A streaming method: reads and sends on its :class:`Call` until it returns (status OK) or raises."""


class GrpcMethods:
    """What the front serves: handlers by full method path (``/etcdserverpb.KV/Range``)."""

    def __init__(self, unary: Mapping[str, UnaryHandler], streaming: Mapping[str, StreamHandler], *,
                 max_message_bytes: int = MAX_RECEIVE_BYTES,
                 token_wait: Callable[[str], Awaitable[None] | None] = lambda token: None) -> None:
        self.unary = {path.encode(): handler for path, handler in unary.items()}
        self.streaming = {path.encode(): handler for path, handler in streaming.items()}
        self.max_message_bytes = max_message_bytes
        self.token_wait = token_wait
        """What a call with a token awaits first (``StoreNode.token_wait``)."""

    def unknown(self, path: bytes) -> str:
        """grpc-go's answer to a path nobody serves."""
        service, _, method = path.decode(errors="replace").lstrip("/").rpartition("/")
        known = {p.decode().lstrip("/").rpartition("/")[0] for p in (*self.unary, *self.streaming)}
        if service in known:
            return f"unknown method {method} for service {service}"
        return f"unknown service {service}"


def _grpc_message(text: str) -> bytes:
    """``grpc-message``: percent-encoded as gRPC says (bytes outside printable ASCII, and ``%``), and
    spaces at either end, where HTTP/2 forbids them."""
    quoted = "".join(chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}" for b in text.encode())
    core = quoted.strip(" ")
    lead = len(quoted) - len(quoted.lstrip(" "))
    return ("%20" * lead + core + "%20" * (len(quoted) - lead - len(core))).encode()


def _go_quote(path: bytes) -> str:
    """``path`` as Go's ``%q`` writes a printable string."""
    text = path.decode(errors="replace").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def frame(message: bytes) -> bytes:
    """One gRPC message on the wire: not compressed, its length, its bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


class _Messages:
    """The request messages of one stream, cut from its DATA as they complete (rule 2)."""

    __slots__ = ("_buf", "_limit")

    def __init__(self, limit: int) -> None:
        self._buf = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        """The messages ``data`` completes.

        Raises:
            StoreError: a message is flagged compressed (INTERNAL: a call naming a compression is
                refused before its messages) or longer than the limit (RESOURCE_EXHAUSTED).
        """
        buf = self._buf
        buf += data
        out: list[bytes] = []
        while len(buf) >= 5:
            size = int.from_bytes(buf[1:5], "big")
            if buf[0]:  # no grpc-encoding was named, or the call was refused (Http2Grpc._request)
                raise GrpcStatus(INTERNAL, "grpc: compressed flag set with identity or empty encoding")
            if size > self._limit:
                raise message_too_large(size, self._limit)
            if len(buf) < 5 + size:
                break
            out.append(bytes(buf[5:5 + size]))
            del buf[:5 + size]
        return out

    @property
    def partial(self) -> bool:
        return bool(self._buf)


class Call:
    """A streaming call as its handler sees it: request messages in, response messages out."""

    def __init__(self, front: Http2Grpc, stream_id: int, headers: Headers) -> None:
        self._front = front
        self._stream_id = stream_id
        self._headers = headers
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._started = False
        self._credit = asyncio.Event()
        self._credit.set()

    async def read(self) -> bytes | None:
        """The next request message; ``None`` once the client has sent its last."""
        return await self._inbox.get()

    async def send(self, message: bytes) -> None:
        """Queue one response message; waits while too much is unsent (rule 4)."""
        front, handle = self._front, self._front.conn.stream(self._stream_id)
        if not self._started:
            self._started = True
            handle.send_response(200, self._headers)
        handle.send_data(frame(message))
        front._schedule_flush()
        while (handle.pending_bytes or 0) > MAX_PENDING_BYTES or front.paused:
            self._credit.clear()
            await self._credit.wait()
            handle = front.conn.stream(self._stream_id)

    def _deliver(self, message: bytes | None) -> None:
        self._inbox.put_nowait(message)


class _Stream:
    """One call's state on a connection."""

    __slots__ = ("call", "caller", "deadline", "headers", "messages", "path", "task")

    def __init__(self, path: bytes, limit: int, caller: Caller | None, headers: Headers) -> None:
        self.path = path
        self.caller = caller
        self.headers = headers
        """The answer's headers: its content type (``_call_headers``)."""
        self.messages = _Messages(limit)
        self.task: asyncio.Task[None] | None = None
        self.call: Call | None = None
        self.deadline: asyncio.TimerHandle | None = None


class Http2Grpc(asyncio.Protocol):
    """One HTTP/2 connection serving gRPC calls (module rules 2 to 6)."""

    def __init__(self, methods: GrpcMethods, server_state: ServerState) -> None:
        self.methods = methods
        self.conn = zttp.Connection(zttp.SERVER, protocol=zttp.HTTP2)
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self._state = server_state
        self._loop = asyncio.get_running_loop()
        self._streams: dict[int, _Stream] = {}
        self._flush_scheduled = False
        self._opened = self._resets = 0
        self._going_away = False
        self._closing: asyncio.TimerHandle | None = None
        """Set once the connection closes gently (rule 7): the hard close's timer."""
        self._common_name = ""
        """The client certificate's common name, under ``--client-cert-auth`` (who calls, rule 8)."""

    def take(self, transport: asyncio.Transport, first: bytes) -> None:
        """Own ``transport`` from here on, ``first`` being the bytes already read from it."""
        self.transport = transport
        self._common_name = client_common_name(transport)
        transport.set_protocol(self)
        self._state.connections.add(self)  # type: ignore[arg-type]  # it has uvicorn's shutdown()
        self.conn.initiate_connection()
        if first:
            self.data_received(first)
        else:
            self._flush()

    # -- bytes in -------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._closing is not None:
            self._drained(data)
            return
        conn = self.conn
        try:
            conn.receive_data(data)
            while (event := conn.next_event()) is not zttp.NEED_DATA:
                if isinstance(event, zttp.Data):
                    self._data(event.stream_id, event.data)
                elif isinstance(event, zttp.Request):
                    self._request(event)
                elif isinstance(event, zttp.EndOfMessage):
                    self._ended(event.stream_id)
                elif isinstance(event, zttp.RstStream):
                    self._reset(event.stream_id)
                elif isinstance(event, zttp.GoAway):
                    self._go_away()
                elif isinstance(event, zttp.WindowUpdate):
                    self._wake_senders()
        except zttp.ProtocolError:
            self._flush()  # zttp's GOAWAY, if it owes one
            self._close()
            return
        self._flush()

    def _request(self, event: zttp.Request) -> None:
        stream_id = event.stream_id
        headers, timeout_s, encoding, token = _call_headers(event.headers)
        if headers is None:  # no gRPC call: grpc-go's transport resets such a stream
            self.conn.stream(stream_id).reset(PROTOCOL_ERROR)
            self._schedule_flush()
            self._count_stream()
            return
        caller = Caller(token, self._common_name) if token or self._common_name else None
        stream = _Stream(event.path, self.methods.max_message_bytes, caller, headers)
        self._streams[stream_id] = stream
        self._count_stream()  # the call in flight first: a GOAWAY's close then waits for its answer
        if timeout_s is not None:
            stream.deadline = self._loop.call_later(timeout_s, self._expire, stream_id)
        handler = self.methods.streaming.get(event.path)
        if b"/" not in event.path.removeprefix(b"/"):  # grpc-go's checks, in its order, its words
            message = f"malformed method name: {_go_quote(event.path)}"
            self._answer_error(stream_id, GrpcStatus(RESOURCE_EXHAUSTED, message))
        elif handler is None and event.path not in self.methods.unary:
            self._answer_error(stream_id, GrpcStatus(UNIMPLEMENTED, self.methods.unknown(event.path)))
        elif encoding is not None:
            message = f"grpc: Decompressor is not installed for grpc-encoding {_go_quote(encoding)}"
            self._answer_error(stream_id, GrpcStatus(UNIMPLEMENTED, message))
        elif handler is not None:
            stream.call = Call(self, stream_id, headers)
            self._start(stream_id, stream, self._run_streaming(stream_id, handler, stream.call))

    def _count_stream(self) -> None:
        """One more stream opened on the connection; at ``STREAM_BUDGET``, GOAWAY (rule 4)."""
        self._opened += 1
        if self._opened >= STREAM_BUDGET:
            self._go_away()

    def _data(self, stream_id: int, data: bytes) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        try:
            messages = stream.messages.feed(data)
        except StoreError as error:
            self._answer_error(stream_id, error)
            return
        if stream.call is not None:
            for message in messages:
                stream.call._deliver(message)
        elif messages:
            self._start_unary(stream_id, stream, messages)

    def _start_unary(self, stream_id: int, stream: _Stream, messages: list[bytes]) -> None:
        if stream.task is not None:
            return  # grpc-go's unary call reads one message; the rest go unread
        handler = self.methods.unary[stream.path]
        self._start(stream_id, stream, self._run_unary(stream_id, handler, messages[0]))

    def _ended(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if stream.call is not None and stream.messages.partial:  # a stream's read: grpc-go's toRPCErr
            self._answer_error(stream_id, GrpcStatus(INTERNAL, "unexpected EOF"))
        elif stream.call is not None:
            stream.call._deliver(None)
        elif stream.task is None:  # grpc-go's words for a read that found no message, or half of one
            words = "unexpected EOF" if stream.messages.partial else "EOF"
            self._answer_error(stream_id, GrpcStatus(UNKNOWN, words))

    def _reset(self, stream_id: int) -> None:
        self._resets += 1
        if self._resets >= RESET_BUDGET:
            self._go_away()
        self._drop(stream_id)

    # -- calls -------------------------------------------------------------------------
    def _start(self, stream_id: int, stream: _Stream, work: Coroutine[Any, Any, None]) -> None:
        if stream.caller is None:
            task = self._loop.create_task(work)
        else:  # the call's task knows who calls (``node's CALLER``), once the member can tell
            context = contextvars.copy_context()
            context.run(CALLER.set, stream.caller)
            wait = self.methods.token_wait(stream.caller.token) if stream.caller.token else None
            task = self._loop.create_task(work if wait is None else _after(wait, work), context=context)
        stream.task = task
        self._state.tasks.add(task)
        task.add_done_callback(self._state.tasks.discard)

    async def _run_unary(self, stream_id: int, handler: UnaryHandler, message: bytes) -> None:
        answer = Answer(partial(self._answer, stream_id), partial(self._answer_failure, stream_id))
        try:
            await handler(message, answer)
        except Exception as error:
            answer.set_exception(error)

    def _answer(self, stream_id: int, reply: bytes) -> None:
        """A unary call's answer, whenever it comes (rule 3)."""
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        handle = self.conn.stream(stream_id)
        handle.send_response(200, stream.headers)
        handle.send_data(frame(reply))
        handle.end_message(_OK_TRAILERS)
        self._finish(stream_id, at_once=len(reply) >= FLUSH_AT_ONCE_BYTES)

    def _answer_failure(self, stream_id: int, error: BaseException) -> None:
        """A unary call's error: a ``StoreError``'s status, else INTERNAL (a bug, logged)."""
        if isinstance(error, StoreError):
            self._answer_error(stream_id, error)
            return
        log.error("grpc call failed", stream_id=stream_id, exc_info=error)
        self._answer_error(stream_id, GrpcStatus(INTERNAL, "internal error"))

    async def _run_streaming(self, stream_id: int, handler: StreamHandler, call: Call) -> None:
        try:
            await handler(call)
        except StoreError as error:
            self._answer_error(stream_id, error)
            return
        except Exception:
            log.exception("grpc call failed", stream_id=stream_id)
            self._answer_error(stream_id, GrpcStatus(INTERNAL, "internal error"))
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        handle = self.conn.stream(stream_id)
        if not call._started:
            handle.send_response(200, stream.headers)
        handle.end_message(_OK_TRAILERS)
        self._finish(stream_id)

    def _answer_error(self, stream_id: int, error: StoreError) -> None:
        """The call's status, as trailers (after its messages) or trailers only; the call ends."""
        stream = self._streams.get(stream_id)
        if stream is None or self.transport is None:
            return
        trailers = [(b"grpc-status", str(error.code).encode()),
                    (b"grpc-message", _grpc_message(error.message))]
        handle = self.conn.stream(stream_id)
        if stream.call is not None and stream.call._started:
            handle.end_message(trailers)
        else:
            handle.send_response(200, [*stream.headers, *trailers], True)
        if stream.task is not None and stream.task is not asyncio.current_task():
            stream.task.cancel()
        self._finish(stream_id)

    def _expire(self, stream_id: int) -> None:
        self._answer_error(stream_id, GrpcStatus(DEADLINE_EXCEEDED, "context deadline exceeded"))

    def _finish(self, stream_id: int, *, at_once: bool = False) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is not None and stream.deadline is not None:
            stream.deadline.cancel()
        if self._streams and not at_once:
            self._schedule_flush()
        else:
            self._flush()  # rule 3: the last call in flight, or a large answer
        if self._going_away and not self._streams:
            self._loop.call_soon(self._close_gently)

    def _drop(self, stream_id: int) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return
        if stream.deadline is not None:
            stream.deadline.cancel()
        if stream.task is not None:
            stream.task.cancel()

    # -- bytes out, flow control, the end --------------------------------------------------
    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self.conn.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    def _wake_senders(self) -> None:
        for stream in self._streams.values():
            if stream.call is not None:
                stream.call._credit.set()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake_senders()

    def _go_away(self) -> None:
        """Take no new streams; close once the calls in flight are done (rules 4 and 6)."""
        if not self._going_away:
            self._going_away = True
            self.conn.close(0)
            self._schedule_flush()
        if not self._streams:
            self._loop.call_soon(self._close_gently)

    def shutdown(self) -> None:
        """The listener is stopping (rule 6)."""
        for stream_id, stream in list(self._streams.items()):
            if stream.call is not None:
                self._answer_error(stream_id, Stopped())
        self._go_away()

    def _close_gently(self) -> None:
        """Rule 7: the last bytes out, a half-close, then the client's close or the timer's."""
        transport = self.transport
        if transport is None or transport.is_closing() or self._closing is not None:
            return
        self._flush()
        transport.write(_DRAIN_PING)  # after zttp's frames, so on a frame's boundary
        self._closing = self._loop.call_later(CLOSE_GRACE_S, self._close)

    def _drained(self, data: bytes) -> None:
        """Going away: bytes read and dropped but the acknowledgement of the last PING (rule 7)."""
        with contextlib.suppress(zttp.ProtocolError):
            self.conn.receive_data(data)
            while (event := self.conn.next_event()) is not zttp.NEED_DATA:
                acknowledged = isinstance(event, zttp.Ping) and event.ack and event.data == _DRAIN_PING_DATA
                if acknowledged and self.transport is not None and self.transport.can_write_eof():
                    self.transport.write_eof()

    def _close(self) -> None:
        self._flush()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closing is not None:
            self._closing.cancel()
        self._state.connections.discard(self)
        self.transport = None
        for stream_id in list(self._streams):
            self._drop(stream_id)


def _call_headers(headers: Any) -> tuple[Headers | None, float | None, bytes | None, str]:
    """A request's headers read in one pass, as grpc-go's transport reads them: the answer's headers
    if they are a gRPC call's, else None (a ``content-type`` of ``application/grpc``, or with a
    subtype after ``+`` or ``;``, which the answer's names after ``+``; a ``grpc-timeout``, if any,
    of 1 to 8 digits and a known unit), the timeout's seconds (``100m``: 0.1 s), the compression a
    ``grpc-encoding`` names but ``identity`` (none is installed), and the auth token of the metadata
    ``token``, else ``authorization`` (etcd's ``AuthInfoFromCtx``)."""
    answer: Headers | None = None
    timeout_s, compression, token, authorization = None, None, "", ""
    for name, value in headers:
        if name == b"token":
            token = value.decode("utf-8", "replace")
        elif name == b"authorization":
            authorization = value.decode("utf-8", "replace")
        elif name == b"content-type":
            answer = _answer_headers(bytes(value))
        elif name == b"grpc-timeout":
            unit = _TIMEOUT_UNITS.get(value[-1:])
            if unit is None or not 2 <= len(value) <= 9 or not value[:-1].isdigit():
                return None, None, None, ""
            timeout_s = int(value[:-1]) * unit
        elif name == b"grpc-encoding" and value not in (b"", b"identity"):
            compression = bytes(value)
    return answer, timeout_s, compression, token or authorization


def _answer_headers(content_type: bytes) -> Headers | None:
    """The answer's headers for a call's ``content-type``; None if it is no gRPC call's."""
    if content_type == b"application/grpc":
        return _HEADERS
    if content_type[:17] not in (b"application/grpc+", b"application/grpc;"):
        return None
    subtype = content_type[17:]
    return [(b"content-type", b"application/grpc+" + subtype)] if subtype else _HEADERS


async def _after(wait: Awaitable[None], work: Coroutine[Any, Any, None]) -> None:
    await wait
    await work
