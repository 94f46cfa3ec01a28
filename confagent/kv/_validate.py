"""Stateless checks of a request before it is proposed, in etcd 3.4's order and words.

Rules (``v3rpc/key.go``):
1. A put, range, delete range or compare needs a non-empty key. A put with
   ``ignore_value`` must not carry a value, with ``ignore_lease`` no lease.
2. A txn has at most 128 ops in each of compare, success and failure; a
   nested txn may have at most ``128 - n`` per list, ``n`` being its parent's
   largest list. Then compares are checked, then each op of success, then of
   failure, depth first.
3. Only then, per top-level branch: no key is put twice, and no put falls
   in a deleted range (``checkIntervals``). A nested txn's success and failure
   may put the same key (only one of them runs). Deletes are intervals
   ``[key, range_end)`` taken literally, so a ``range_end`` of ``"\\0"`` covers
   nothing here. The check reproduces etcd's order quirk: a put in one nested
   txn followed by a delete of that key in a *later* nested txn is allowed.
4. A lease TTL above 9,000,000,000 s is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from confagent.errors import (
    DuplicateKey,
    KeyNotProvided,
    LeaseProvided,
    LeaseTTLTooLarge,
    TooManyOps,
    ValueProvided,
)
from confagent.kv._limits import MAX_LEASE_TTL, MAX_TXN_OPS
from confagent.kv._messages import (
    DeleteRangeRequest,
    LeaseGrantRequest,
    PutRequest,
    RangeRequest,
    Request,
    RequestOp,
    TxnRequest,
)

__all__ = ["validate"]

_Interval = tuple[bytes, bytes]


def validate(request: Request) -> None:
    """Raise the error etcd gives ``request`` before proposing it, if any.

    Raises:
        KeyNotProvided, ValueProvided, LeaseProvided, TooManyOps, DuplicateKey,
        LeaseTTLTooLarge.
    """
    match request:
        case TxnRequest():
            _check_txn(request, MAX_TXN_OPS)
            _writes_of(request.success)
            _writes_of(request.failure)
        case LeaseGrantRequest():
            if request.ttl > MAX_LEASE_TTL:
                raise LeaseTTLTooLarge()
        case PutRequest() | RangeRequest() | DeleteRangeRequest():
            _check_op(request, MAX_TXN_OPS)


def _check_txn(txn: TxnRequest, max_ops: int) -> None:
    ops = max(len(txn.compare), len(txn.success), len(txn.failure))
    if ops > max_ops:
        raise TooManyOps()
    for compare in txn.compare:
        if not compare.key:
            raise KeyNotProvided()
    for op in (*txn.success, *txn.failure):
        _check_op(op, max_ops - ops)


def _check_op(op: RequestOp, max_ops: int) -> None:
    if isinstance(op, TxnRequest):
        _check_txn(op, max_ops)
        return
    if not op.key:
        raise KeyNotProvided()
    if isinstance(op, PutRequest):
        if op.ignore_value and op.value:
            raise ValueProvided()
        if op.ignore_lease and op.lease:
            raise LeaseProvided()


def _writes_of(ops: Sequence[RequestOp]) -> tuple[set[bytes], list[_Interval]]:
    """The keys put and the ranges deleted by ``ops``, nested txns included.

    Raises:
        DuplicateKey: a key is put twice, or put inside a deleted range.
    """
    deleted = [(op.key, op.range_end or op.key + b"\x00")
               for op in ops if isinstance(op, DeleteRangeRequest)]
    put: set[bytes] = set()
    for op in ops:
        if not isinstance(op, TxnRequest):
            continue
        put_then, deleted_then = _writes_of(op.success)
        put_else, deleted_else = _writes_of(op.failure)
        for key in put_then:
            _claim(key, put, deleted)
        for key in put_else:
            _claim(key, put, deleted, allowed=put_then)
        deleted += deleted_then + deleted_else
    for op in ops:
        if isinstance(op, PutRequest):
            _claim(op.key, put, deleted)
    return put, deleted


def _claim(key: bytes, taken: set[bytes], deleted: list[_Interval],
           allowed: set[bytes] | None = None) -> None:
    """Record a put of ``key``; ``allowed`` may already hold it (the other branch)."""
    if key in taken and not (allowed and key in allowed):
        raise DuplicateKey()
    if any(start <= key < end for start, end in deleted):
        raise DuplicateKey()
    taken.add(key)
