"""The Raft log's encoding of store commands: msgpack arrays, versioned and compact.

Layout::

    command = [FORMAT, tag, *fields]        FORMAT is 1; a reader refuses others
    txn op  = [tag, *fields]                the same fields, no FORMAT
    compare = [key, target, result, operand, range_end]

Fields are positional, in the order the message declares them, except that
the booleans of a message are packed into one ``flags`` int (bit 0 is the
first boolean). Trailing fields equal to their default are left out, so a
plain put costs its key and value plus four bytes. Bytes stay msgpack ``bin``;
a compare's operand keeps its kind (int or bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]

from confagent.errors import StorageError
from confagent.kv._messages import (
    CompactionRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    Request,
    RequestOp,
    SortOrder,
    SortTarget,
    TxnRequest,
)

__all__ = ["FORMAT", "decode_request", "encode_request", "padded", "trimmed"]

FORMAT = 1

_RANGE, _PUT, _DELETE_RANGE, _TXN, _COMPACTION, _LEASE_GRANT, _LEASE_REVOKE = range(7)
_RANGE_DEFAULTS = (b"", b"", 0, 0, 0, 0, 0, 0, 0, 0, 0)
_PUT_DEFAULTS = (b"", b"", 0, 0)
_DELETE_RANGE_DEFAULTS = (b"", b"", 0)
_TXN_DEFAULTS = ((), (), ())
_COMPARE_DEFAULTS = (b"", 0, 0, 0, b"")
_SORT_ORDERS = tuple(SortOrder)
_SORT_TARGETS = tuple(SortTarget)
_COMPARE_TARGETS = tuple(CompareTarget)
_COMPARE_RESULTS = tuple(CompareResult)


def trimmed(fields: Sequence[Any], defaults: Sequence[Any]) -> list[Any]:
    """``fields`` without the trailing ones equal (value and type) to their default."""
    end = len(fields)
    while end and fields[end - 1] == defaults[end - 1] \
            and type(fields[end - 1]) is type(defaults[end - 1]):
        end -= 1
    return list(fields[:end])


def padded(fields: Sequence[Any], defaults: Sequence[Any]) -> Sequence[Any]:
    """``fields`` with the left-out trailing defaults put back."""
    if len(fields) > len(defaults):
        raise ValueError(f"{len(fields)} fields, at most {len(defaults)} expected")
    return (*fields, *defaults[len(fields):])


def encode_request(request: Request) -> bytes:
    """The log entry payload for ``request``."""
    if isinstance(request, CompactionRequest):
        body = [_COMPACTION, *trimmed((request.revision, int(request.physical)), (0, 0))]
    elif isinstance(request, LeaseGrantRequest):
        body = [_LEASE_GRANT, request.ttl, request.id]
    elif isinstance(request, LeaseRevokeRequest):
        body = [_LEASE_REVOKE, request.id]
    else:
        body = _encode_op(request)
    return msgpack.packb([FORMAT, *body], use_bin_type=True)  # type: ignore[no-any-return]


def _encode_op(op: RequestOp) -> list[Any]:
    match op:
        case PutRequest():
            flags = op.prev_kv | op.ignore_value << 1 | op.ignore_lease << 2
            return [_PUT, *trimmed((op.key, op.value, op.lease, flags), _PUT_DEFAULTS)]
        case RangeRequest():
            flags = op.serializable | op.keys_only << 1 | op.count_only << 2
            return [_RANGE, *trimmed((
                op.key, op.range_end, op.limit, op.revision, int(op.sort_order),
                int(op.sort_target), flags, op.min_mod_revision, op.max_mod_revision,
                op.min_create_revision, op.max_create_revision), _RANGE_DEFAULTS)]
        case DeleteRangeRequest():
            fields = (op.key, op.range_end, int(op.prev_kv))
            return [_DELETE_RANGE, *trimmed(fields, _DELETE_RANGE_DEFAULTS)]
        case TxnRequest():
            compares = tuple(trimmed((c.key, int(c.target), int(c.result), c.operand,
                                      c.range_end), _COMPARE_DEFAULTS) for c in op.compare)
            success = tuple(_encode_op(o) for o in op.success)
            failure = tuple(_encode_op(o) for o in op.failure)
            return [_TXN, *trimmed((compares, success, failure), _TXN_DEFAULTS)]
    raise TypeError(f"not a store command: {op!r}")


def decode_request(data: bytes) -> Request:
    """The request ``encode_request`` turned into ``data``.

    Raises:
        StorageError: ``data`` is not a command of this format.
    """
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=False)
        if fields[0] != FORMAT:
            raise ValueError(f"log command format {fields[0]!r}, expected {FORMAT}")
        tag = fields[1]
        if tag == _COMPACTION:
            revision, physical = padded(fields[2:], (0, 0))
            return CompactionRequest(revision=revision, physical=bool(physical))
        if tag == _LEASE_GRANT:
            return LeaseGrantRequest(ttl=fields[2], id=fields[3])
        if tag == _LEASE_REVOKE:
            return LeaseRevokeRequest(id=fields[2])
        return _decode_op(fields[1:])
    except (msgpack.UnpackException, ValueError, TypeError, IndexError, KeyError) as error:
        raise StorageError(f"undecodable log command: {error}") from error


def _decode_op(fields: Sequence[Any]) -> RequestOp:
    return _OP_DECODERS[fields[0]](fields[1:])


def _decode_put(fields: Sequence[Any]) -> PutRequest:
    key, value, lease, flags = padded(fields, _PUT_DEFAULTS)
    return PutRequest(key=key, value=value, lease=lease, prev_kv=bool(flags & 1),
                      ignore_value=bool(flags & 2), ignore_lease=bool(flags & 4))


def _decode_range(fields: Sequence[Any]) -> RangeRequest:
    (key, range_end, limit, revision, sort_order, sort_target, flags, min_mod, max_mod,
     min_create, max_create) = padded(fields, _RANGE_DEFAULTS)
    return RangeRequest(
        key=key, range_end=range_end, limit=limit, revision=revision,
        sort_order=_SORT_ORDERS[sort_order], sort_target=_SORT_TARGETS[sort_target],
        serializable=bool(flags & 1), keys_only=bool(flags & 2), count_only=bool(flags & 4),
        min_mod_revision=min_mod, max_mod_revision=max_mod,
        min_create_revision=min_create, max_create_revision=max_create)


def _decode_delete_range(fields: Sequence[Any]) -> DeleteRangeRequest:
    key, range_end, prev_kv = padded(fields, _DELETE_RANGE_DEFAULTS)
    return DeleteRangeRequest(key=key, range_end=range_end, prev_kv=bool(prev_kv))


def _decode_txn(fields: Sequence[Any]) -> TxnRequest:
    compares, success, failure = padded(fields, _TXN_DEFAULTS)
    return TxnRequest(compare=tuple(_decode_compare(c) for c in compares),
                      success=tuple(_decode_op(o) for o in success),
                      failure=tuple(_decode_op(o) for o in failure))


def _decode_compare(fields: Sequence[Any]) -> Compare:
    key, target, result, operand, range_end = padded(fields, _COMPARE_DEFAULTS)
    return Compare(key=key, target=_COMPARE_TARGETS[target], result=_COMPARE_RESULTS[result],
                   operand=operand, range_end=range_end)


_OP_DECODERS: dict[int, Callable[[Sequence[Any]], RequestOp]] = {
    _RANGE: _decode_range,
    _PUT: _decode_put,
    _DELETE_RANGE: _decode_delete_range,
    _TXN: _decode_txn,
}
