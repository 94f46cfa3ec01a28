"""The etcd 3.4 protobuf codec, client side: the one call a one-shot snapshot makes over gRPC.

The twin of ``_proto_server`` for what a client sends and reads, limited to
what is used: a snapshot of some prefixes is one KV.Txn with no compares
whose success ops are ranges, all at one revision (``pb_encode_range_txn_request``),
and its answer is read into the revision and the key-values
(``pb_decode_range_txn_response``). The key-values are protobuf's own
``KeyValue`` messages, read through their ``key`` and ``value`` bytes
(``KeyValueBytes``): building one ``kv.KeyValue`` per key costs more than
the whole decoding of 100,000 keys.

gRPC's message framing (a compressed flag, a 4-byte big-endian length, the
message) is ``grpc_frame`` and ``grpc_unframe``, for both sides; the status of
a call is its trailers' ``grpc-status`` and percent-encoded ``grpc-message``
(``grpc_status_of``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote_to_bytes

from google.protobuf.message import DecodeError

from confagent.errors import Internal
from confagent.wire._pb import rpc_pb2

__all__ = [
    "KeyValueBytes",
    "RangeAsked",
    "RangeTxnReply",
    "grpc_frame",
    "grpc_status_of",
    "grpc_unframe",
    "pb_decode_range_txn_response",
    "pb_encode_range_txn_request",
]

class RangeAsked(Protocol):
    """What a txn of ranges asks of each range: ``kv.RangeRequest``'s fields it sends (a one-shot's
    snapshot passes its own tuples, so as not to load the store's message types)."""

    @property
    def key(self) -> bytes: ...

    @property
    def range_end(self) -> bytes: ...

    @property
    def limit(self) -> int: ...

    @property
    def revision(self) -> int: ...


class KeyValueBytes(Protocol):
    """What a snapshot reads of a key-value: its key and value bytes."""

    @property
    def key(self) -> bytes: ...

    @property
    def value(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class RangeTxnReply:
    """A txn of ranges answered: the store's revision and every range's key-values, in order."""

    revision: int
    kvs: Sequence[KeyValueBytes]


def grpc_frame(message: bytes) -> bytes:
    """One gRPC message on the wire: not compressed, its length, its bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def grpc_unframe(body: bytes) -> bytes:
    """The one uncompressed message of a unary call's response body.

    Raises:
        Internal: the body is not exactly one uncompressed message.
    """
    if len(body) < 5 or body[0] or int.from_bytes(body[1:5], "big") != len(body) - 5:
        raise Internal(f"grpc: a unary answer of {len(body)} bytes is not one uncompressed message")
    return body[5:]


def grpc_status_of(trailers: Sequence[tuple[bytes, bytes]]) -> tuple[int, str]:
    """The call's status code and message from its trailers (no ``grpc-status``: Unknown, 2)."""
    fields = dict(trailers)
    status = fields.get(b"grpc-status")
    message = unquote_to_bytes(fields.get(b"grpc-message", b"")).decode(errors="replace")
    return (int(status) if status is not None and status.isdigit() else 2), message


def pb_encode_range_txn_request(ranges: Sequence[RangeAsked]) -> bytes:
    """A KV.Txn request with no compares, its success ops the ``ranges`` (key, range_end, limit, revision)."""
    request = rpc_pb2.TxnRequest()
    for wanted in ranges:
        request.success.add().request_range.CopyFrom(rpc_pb2.RangeRequest(
            key=wanted.key, range_end=wanted.range_end, limit=wanted.limit, revision=wanted.revision))
    return request.SerializeToString()


def pb_decode_range_txn_response(message: bytes) -> RangeTxnReply:
    """The revision and the key-values of every range op of a KV.Txn answer.

    Raises:
        Internal: the bytes are not a TxnResponse, or an op answered is not a range.
    """
    reply = rpc_pb2.TxnResponse()
    try:
        reply.ParseFromString(message)
    except DecodeError as error:
        raise Internal(f"grpc: error unmarshalling response: {error}") from None
    kvs: list[KeyValueBytes] = []
    for op in reply.responses:
        if op.WhichOneof("response") != "response_range":
            raise Internal(f"a txn of ranges answered with {op.WhichOneof('response')}")
        kvs.extend(op.response_range.kvs)
    return RangeTxnReply(reply.header.revision, kvs)
