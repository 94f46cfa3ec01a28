"""Transactions as etcd 3.4's applier runs them (``applierV3backend.Txn``).

Strategy, in three passes over the same request:

1. **Path.** Every compare on the taken path is evaluated first, against the
   store as it was before the transaction: the top-level compares, then those
   of each nested txn in the chosen branch, depth first (``compareToPath``).
   So a nested compare does *not* see the writes of its enclosing txn.
2. **Checks.** The ops of the taken branches are checked against the state
   before any write: puts first (unknown lease, ``ignore_*`` on a missing
   key), only when the txn can write at all; then ranges (compacted or
   future ``revision``). The first failure is raised and nothing changes.
3. **Apply.** The taken ops run in order in one write transaction; reads see
   earlier writes. A txn containing a nested txn counts as a writing txn, as
   in etcd; it only changes the revision if something was actually written.

The path is a flat list of booleans in depth-first order; every pass consumes
it through one iterator, in the same order it was produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from confagent.kv._index import KeyIndex
from confagent.kv._messages import (
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    RequestOp,
    ResponseOp,
    TxnRequest,
    TxnResponse,
)
from confagent.kv._reads import compare_holds
from confagent.kv._writes import WriteTxn

__all__ = ["apply_taken", "check_taken", "is_read_only", "taken_path"]

OpCheck = Callable[[RequestOp], None]


def taken_path(index: KeyIndex, request: TxnRequest) -> list[bool]:
    """Whether each txn on the taken path succeeded, depth first."""
    succeeded = all(compare_holds(index, compare) for compare in request.compare)
    path = [succeeded]
    for op in request.success if succeeded else request.failure:
        if type(op) is TxnRequest:
            path.extend(taken_path(index, op))
    return path


def is_read_only(request: TxnRequest) -> bool:
    """No op of either branch is anything but a range (a nested txn counts as a write)."""
    return all(type(op) is RangeRequest for op in (*request.success, *request.failure))


def check_taken(request: TxnRequest, path: Iterator[bool], check: OpCheck) -> None:
    """Run ``check`` on every non-txn op of the taken branches, in order."""
    for op in request.success if next(path) else request.failure:
        if type(op) is TxnRequest:
            check_taken(op, path, check)
        else:
            check(op)


def apply_taken(request: TxnRequest, path: Iterator[bool], writes: WriteTxn) -> TxnResponse:
    """Run the taken branches' ops in ``writes``; the responses in request order."""
    succeeded = next(path)
    responses: list[ResponseOp] = []
    for op in request.success if succeeded else request.failure:
        match op:
            case RangeRequest():
                responses.append(writes.range(op))
            case PutRequest():
                responses.append(writes.put(op))
            case DeleteRangeRequest():
                responses.append(writes.delete_range(op))
            case TxnRequest():
                responses.append(apply_taken(op, path, writes))
    return TxnResponse(succeeded=succeeded, responses=tuple(responses))
