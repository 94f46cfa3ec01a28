"""``GrpcCalls``: unary gRPC calls on one HTTP/2 connection over a blocking socket, for a one-shot's snapshot.

A one-shot pass makes one or a few unary calls and exits: an HTTP/2 stack
(zttp's, with its QUIC parts) costs it more to import than the calls take.
The client side of so little HTTP/2 (RFC 9113) is a few frames, written here;
header blocks are HPACK's (RFC 7541), by the ``hpack`` package.

Rules:
1. The connection opens with the preface, our settings (no push, the largest
   stream window) and a connection window as large: the answer's DATA never
   waits for a WINDOW_UPDATE from us, whatever its size.
2. Every request is sent at once, each on its own stream (HEADERS, then its
   message in DATA frames of at most the peer's ``MAX_FRAME_SIZE``); a request
   larger than the peer's windows waits for its WINDOW_UPDATEs.
3. Every header block the peer sends is decoded, in order (HPACK's dynamic
   table is shared by the connection); a response's status comes from its
   trailers' ``grpc-status`` (or the head of a trailers-only answer), as
   ``wire.grpc_status_of`` reads it, and a status other than OK is raised as
   the store's error (``store_error_from``).
4. The peer's SETTINGS are acknowledged and its PINGs answered; a GOAWAY, a
   RST_STREAM on a stream still waited for, an HTTP status other than 200, a
   frame that breaks the framing, or the connection closing before every
   answer is ``CallsBroken``.
5. Each wait on the socket is bounded by the socket's timeout (set by the
   caller): a bound on silence, not on the whole answer.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from typing import cast

import hpack

from confagent.errors import store_error_from
from confagent.wire import grpc_frame, grpc_status_of, grpc_unframe

__all__ = ["CallsBroken", "GrpcCalls"]

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _PUSH_PROMISE, _PING, _GOAWAY, _WINDOW_UPDATE, _CONTINUATION = (
    0x0, 0x1, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9)
_END_STREAM, _ACK, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
_ENABLE_PUSH, _INITIAL_WINDOW_SIZE, _MAX_FRAME_SIZE = 0x2, 0x4, 0x5
_LARGEST_WINDOW = (1 << 31) - 1
_DEFAULT_WINDOW = 65_535
_DEFAULT_FRAME_BYTES = 16_384
_HEAD = struct.Struct(">I B I")
"""A frame's head: its length (the top 24 bits) and type (the low 8), its flags, its stream."""
_SETTING = struct.Struct(">HI")
_READ_BYTES = 1 << 18


class CallsBroken(Exception):
    """The connection ended, broke HTTP/2's framing, or a stream was reset, before every answer came."""


class GrpcCalls:
    """Unary calls to ``path`` on the connected socket ``sock`` (module rules).

    Args:
        sock: connected (TLS already negotiated, ALPN ``h2``, for ``https``), with its timeout set.
        authority: the ``:authority`` of the requests (``HOST:PORT``).
        path: the method called (``/etcdserverpb.KV/Txn``).
        scheme: ``http`` or ``https``.
    """

    def __init__(self, sock: socket.socket, authority: str, path: str, scheme: str) -> None:
        self._sock = sock
        self._head = [(":method", "POST"), (":scheme", scheme), (":path", path), (":authority", authority),
                      ("content-type", "application/grpc"), ("te", "trailers")]
        self._encoder, self._decoder = hpack.Encoder(), hpack.Decoder()
        self._decoder.max_header_list_size = 1 << 20
        self._buffer = bytearray()
        self._frame_bytes = _DEFAULT_FRAME_BYTES
        self._send_window = {0: _DEFAULT_WINDOW}
        self._initial_window = _DEFAULT_WINDOW
        self._bodies: dict[int, list[bytes]] = {}
        self._done: dict[int, bytes] = {}
        settings = _SETTING.pack(_ENABLE_PUSH, 0) + _SETTING.pack(_INITIAL_WINDOW_SIZE, _LARGEST_WINDOW)
        sock.sendall(_PREFACE + _frame(_SETTINGS, 0, 0, settings)
                     + _frame(_WINDOW_UPDATE, 0, 0, (_LARGEST_WINDOW - _DEFAULT_WINDOW).to_bytes(4, "big")))
        self._next_stream = 1

    def unary(self, messages: Sequence[bytes]) -> list[bytes]:
        """Each message's answer, in order (rule 2): ``receive(send(messages))``.

        Raises:
            StoreError: a call's status was not OK.
            CallsBroken, OSError (TimeoutError): the connection failed (rules 4-5).
        """
        return self.receive(self.send(messages))

    def send(self, messages: Sequence[bytes]) -> list[int]:
        """Send each message as a call on a stream of its own (rule 2); the streams, for ``receive``.

        Raises:
            CallsBroken, OSError (TimeoutError): the connection failed (rules 4-5).
        """
        streams = []
        for message in messages:
            stream, self._next_stream = self._next_stream, self._next_stream + 2
            self._bodies[stream] = []
            self._send_window[stream] = self._initial_window
            block = self._encoder.encode(self._head)
            self._sock.sendall(_frame(_HEADERS, _END_HEADERS, stream, block))
            self._send_data(stream, grpc_frame(message))
            streams.append(stream)
        return streams

    def receive(self, streams: Sequence[int]) -> list[bytes]:
        """The answers of the calls ``send`` made on ``streams``, in their order (rule 3).

        Raises:
            StoreError: a call's status was not OK.
            CallsBroken, OSError (TimeoutError): the connection failed (rules 4-5).
        """
        while any(stream not in self._done for stream in streams):
            self._receive_frame()
        return [self._done.pop(stream) for stream in streams]

    def _send_data(self, stream: int, data: bytes) -> None:
        """``data`` in frames the peer's frame size and windows allow, the last ending the stream (rule 2)."""
        view = memoryview(data)
        while True:
            room = min(self._frame_bytes, self._send_window[0], self._send_window[stream])
            if room <= 0 and view:
                self._receive_frame()  # until a WINDOW_UPDATE
                continue
            piece, view = view[:room], view[room:]
            self._send_window[0] -= len(piece)
            self._send_window[stream] -= len(piece)
            self._sock.sendall(_frame(_DATA, 0 if view else _END_STREAM, stream, piece))
            if not view:
                return

    def _receive_frame(self) -> None:
        """Read and act on one frame (rules 3-4)."""
        kind, flags, stream, payload = self._read_frame()
        if kind == _DATA:
            self._on_data(flags, stream, payload)
        elif kind == _HEADERS:
            self._on_headers(flags, stream, payload)
        elif kind == _SETTINGS:
            if not flags & _ACK:
                self._on_settings(payload)
        elif kind == _PING:
            if not flags & _ACK:
                self._sock.sendall(_frame(_PING, _ACK, 0, payload))
        elif kind == _WINDOW_UPDATE:
            increment = int.from_bytes(payload[:4], "big") & _LARGEST_WINDOW
            if stream == 0 or stream in self._send_window:
                self._send_window[stream] = self._send_window.get(stream, 0) + increment
        elif kind == _RST_STREAM and stream in self._bodies:
            raise CallsBroken(f"the server reset the call (error code {int.from_bytes(payload[:4], 'big')})")
        elif kind in (_GOAWAY, _PUSH_PROMISE, _CONTINUATION):
            raise CallsBroken("the server ended the connection" if kind == _GOAWAY else
                              f"an unexpected frame (type {kind})")

    def _on_data(self, flags: int, stream: int, payload: bytes) -> None:
        body = self._bodies.get(stream)
        if body is None:
            raise CallsBroken(f"DATA on stream {stream}, which no call is waiting on")
        body.append(_unpadded(flags, payload))
        if flags & _END_STREAM:  # no trailers: grpc-status missing, Unknown (grpc_status_of)
            self._finish(stream, [])

    def _on_headers(self, flags: int, stream: int, payload: bytes) -> None:
        block = _unpadded(flags, payload)
        if flags & _PRIORITY:
            block = block[5:]
        while not flags & _END_HEADERS:
            kind, flags, continued, more = self._read_frame()
            if kind != _CONTINUATION or continued != stream:
                raise CallsBroken("a header block interrupted")
            block += more
        try:
            fields = cast("list[tuple[bytes, bytes]]", list(self._decoder.decode(block, raw=True)))
        except hpack.HPACKError as error:
            raise CallsBroken(f"an undecodable header block: {error}") from None
        if stream not in self._bodies:
            return  # decoded all the same: the dynamic table is the connection's (rule 3)
        status = dict(fields).get(b":status")
        if status is not None and status != b"200":
            raise CallsBroken(f"answered HTTP {status.decode(errors='replace')}, not gRPC")
        if flags & _END_STREAM:
            self._finish(stream, fields)

    def _finish(self, stream: int, trailers: list[tuple[bytes, bytes]]) -> None:
        code, text = grpc_status_of(trailers)
        if code:
            raise store_error_from(code, text)
        self._done[stream] = grpc_unframe(b"".join(self._bodies.pop(stream)))

    def _on_settings(self, payload: bytes) -> None:
        for offset in range(0, len(payload) - len(payload) % _SETTING.size, _SETTING.size):
            key, value = _SETTING.unpack_from(payload, offset)
            if key == _MAX_FRAME_SIZE:
                self._frame_bytes = value
            elif key == _INITIAL_WINDOW_SIZE:
                for stream in self._send_window:
                    if stream:
                        self._send_window[stream] += value - self._initial_window
                self._initial_window = value
        self._sock.sendall(_frame(_SETTINGS, _ACK, 0, b""))

    def _read_frame(self) -> tuple[int, int, int, bytes]:
        head = self._read(_HEAD.size)
        word, flags, stream = _HEAD.unpack(head)
        return word & 0xFF, flags, stream & _LARGEST_WINDOW, self._read(word >> 8)

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            data = self._sock.recv(_READ_BYTES)
            if not data:
                raise CallsBroken("the connection closed before the answer")
            self._buffer += data
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


def _frame(kind: int, flags: int, stream: int, payload: bytes | memoryview) -> bytes:
    return _HEAD.pack(len(payload) << 8 | kind, flags, stream) + payload


def _unpadded(flags: int, payload: bytes) -> bytes:
    if not flags & _PADDED:
        return payload
    if not payload or payload[0] >= len(payload):
        raise CallsBroken("a frame's padding is longer than the frame")
    return payload[1:len(payload) - payload[0]]
