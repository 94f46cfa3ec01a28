"""A request's size as etcd measures it, in encoded protobuf bytes, and the Raft request limit.

etcd refuses a Raft request larger than ``--max-request-bytes`` ("etcdserver:
request is too large"), whoever makes it: a client's put or txn, or the txns
its lock and election services make for their callers. The sizes here are the
protobuf sizes of the decoded request, computed without encoding it (a range
inside a txn counted with 8 bytes of options).
"""

from __future__ import annotations

from confagent.errors import RequestTooLarge
from confagent.kv._limits import MAX_REQUEST_BYTES
from confagent.kv._messages import Compare, DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest

__all__ = ["check_raft_request_size", "request_bytes"]
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


def request_bytes(request: PutRequest | TxnRequest) -> int:
    """The protobuf size of a put or txn request."""
    return _put_size(request) if isinstance(request, PutRequest) else _txn_size(request)


def check_raft_request_size(request: PutRequest | TxnRequest) -> None:
    """Refuse a request over the Raft request limit, as etcd's server does.

    Raises:
        RequestTooLarge: its Raft request is over ``MAX_REQUEST_BYTES``.
    """
    if request_bytes(request) + _RAFT_ENVELOPE_BYTES > MAX_REQUEST_BYTES:
        raise RequestTooLarge()
