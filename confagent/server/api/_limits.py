"""Request size limits, measured the way etcd measures them: in encoded protobuf bytes.

etcd refuses a request in two places. The gRPC server refuses a message larger
than ``--max-request-bytes`` + 512 KiB (429, code 8, "grpc: received message
larger than max (N vs. M)"); the server then refuses a Raft request larger than
``--max-request-bytes`` (400, "etcdserver: request is too large"). To answer
the same requests the same way, the sizes here are the protobuf sizes of the
decoded request, computed without encoding it.
"""

from __future__ import annotations

from confagent.errors import RequestTooLarge, ResourceExhausted
from confagent.kv import (
    Compare,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
)

__all__ = [
    "MAX_RECEIVE_BYTES",
    "MAX_REQUEST_BYTES",
    "check_request_size",
    "message_too_large",
]

MAX_REQUEST_BYTES = 1_572_864
"""etcd's --max-request-bytes default: the largest Raft request accepted."""
MAX_RECEIVE_BYTES = MAX_REQUEST_BYTES + 512 * 1024
"""etcd's gRPC receive limit."""
_RAFT_ENVELOPE_BYTES = 16
"""InternalRaftRequest around the request: a request header with its ID, and a tag+length."""


def _varint_size(value: int) -> int:
    if value < 0:
        return 10
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def _bytes_field(data: bytes) -> int:
    return 1 + _varint_size(len(data)) + len(data) if data else 0


def _int_field(value: int) -> int:
    return 1 + _varint_size(value) if value else 0


def _message_field(size: int) -> int:
    return 1 + _varint_size(size) + size


def _put_size(put: PutRequest) -> int:
    flags = sum(2 for flag in (put.prev_kv, put.ignore_value, put.ignore_lease) if flag)
    return _bytes_field(put.key) + _bytes_field(put.value) + _int_field(put.lease) + flags


def _range_size(request: RangeRequest | DeleteRangeRequest) -> int:
    return _bytes_field(request.key) + _bytes_field(request.range_end) + 8


def _compare_size(compare: Compare) -> int:
    operand = (_bytes_field(compare.operand) if isinstance(compare.operand, bytes)
               else _int_field(compare.operand))
    return _bytes_field(compare.key) + _bytes_field(compare.range_end) + 4 + operand


def _op_size(op: PutRequest | RangeRequest | DeleteRangeRequest | TxnRequest) -> int:
    if isinstance(op, PutRequest):
        return _put_size(op)
    if isinstance(op, TxnRequest):
        return _txn_size(op)
    return _range_size(op)


def _txn_size(txn: TxnRequest) -> int:
    return (sum(_message_field(_compare_size(c)) for c in txn.compare)
            + sum(_message_field(_message_field(_op_size(op))) for op in txn.success)
            + sum(_message_field(_message_field(_op_size(op))) for op in txn.failure))


def message_too_large(size: int) -> ResourceExhausted:
    return ResourceExhausted(
        f"grpc: received message larger than max ({size} vs. {MAX_RECEIVE_BYTES})")


def check_request_size(request: PutRequest | TxnRequest) -> None:
    """Refuse a write as etcd would: first by gRPC message size, then by Raft request size.

    Raises:
        ResourceExhausted: the message is over the gRPC receive limit.
        RequestTooLarge: the Raft request is over ``MAX_REQUEST_BYTES``.
    """
    size = _put_size(request) if isinstance(request, PutRequest) else _txn_size(request)
    if size > MAX_RECEIVE_BYTES:
        raise message_too_large(size)
    if size + _RAFT_ENVELOPE_BYTES > MAX_REQUEST_BYTES:
        raise RequestTooLarge()
