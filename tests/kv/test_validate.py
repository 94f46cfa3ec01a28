"""validate(): etcd 3.4's stateless refusals, checked case by case against a real etcd."""

from __future__ import annotations

import pytest

from confagent.errors import (
    DuplicateKey,
    KeyNotProvided,
    LeaseProvided,
    LeaseTTLTooLarge,
    StoreError,
    TooManyOps,
    ValueProvided,
)
from confagent.kv import (
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    Request,
    RequestOp,
    TxnRequest,
    validate,
)

from .helpers import put


def txn(*success: RequestOp, failure: tuple[RequestOp, ...] = ()) -> TxnRequest:
    return TxnRequest(success=success, failure=failure)


def delete(key: bytes, end: bytes = b"") -> DeleteRangeRequest:
    return DeleteRangeRequest(key, end)


P = put


@pytest.mark.parametrize(("request_", "error"), [
    (PutRequest(b""), KeyNotProvided),
    (RangeRequest(b""), KeyNotProvided),
    (DeleteRangeRequest(b""), KeyNotProvided),
    (TxnRequest(compare=(Compare(b""),)), KeyNotProvided),
    (txn(RangeRequest(b"")), KeyNotProvided),
    (txn(failure=(txn(put(b"")),)), KeyNotProvided),
    (PutRequest(b"k", b"v", ignore_value=True), ValueProvided),
    (PutRequest(b"k", lease=5, ignore_lease=True), LeaseProvided),
    (LeaseGrantRequest(ttl=9_000_000_001, id=1), LeaseTTLTooLarge),
])
def test_refusals(request_: Request, error: type[StoreError]) -> None:
    with pytest.raises(error) as raised:
        validate(request_)
    assert raised.value.message == error.default_message


@pytest.mark.parametrize("request_", [
    PutRequest(b"k", ignore_value=True, ignore_lease=True),
    LeaseGrantRequest(ttl=9_000_000_000, id=1),
    LeaseRevokeRequest(id=0),
    CompactionRequest(0),
    TxnRequest(),
    txn(*[RangeRequest(b"r")] * 128),
])
def test_accepted(request_: Request) -> None:
    validate(request_)


def ranges(n: int) -> tuple[RequestOp, ...]:
    return (RangeRequest(b"r"),) * n


@pytest.mark.parametrize(("request_", "refused"), [
    (txn(*ranges(129)), True),
    (TxnRequest(compare=(Compare(b"k"),) * 129), True),
    (txn(failure=ranges(129)), True),
    # a nested txn may have 128 minus its parent's largest list (etcd: 99+1 outer, 29 inner)
    (txn(*ranges(99), txn(*ranges(29))), True),
    (txn(*ranges(99), txn(*ranges(28))), False),
    (TxnRequest(compare=(Compare(b"x"),) * 120, success=(txn(*ranges(9)),)), True),
    (TxnRequest(compare=(Compare(b"x"),) * 120, success=(txn(*ranges(8)),)), False),
    (TxnRequest(failure=ranges(120), success=(txn(*ranges(9)),)), True),
])
def test_too_many_ops(request_: TxnRequest, refused: bool) -> None:
    if refused:
        with pytest.raises(TooManyOps):
            validate(request_)
    else:
        validate(request_)


def test_too_many_ops_is_checked_before_empty_compare_keys() -> None:
    with pytest.raises(TooManyOps):
        validate(TxnRequest(compare=(Compare(b""),) * 129))


def test_empty_keys_anywhere_are_checked_before_duplicates() -> None:
    with pytest.raises(KeyNotProvided):
        validate(TxnRequest(success=(P(b"k"), P(b"k")), failure=(P(b""),)))


@pytest.mark.parametrize(("success", "refused"), [
    # each row was sent to etcd 3.4.23 as the success branch of a txn
    ((delete(b"a", b"\x00"), P(b"b")), False),        # "\0" taken literally: covers nothing
    ((P(b"b"), delete(b"a", b"\x00")), False),
    ((delete(b"a", b"c"), P(b"b")), True),
    ((delete(b"c", b"a"), P(b"b")), False),           # an inverted range covers nothing
    ((delete(b"b"), delete(b"b")), False),
    ((P(b"k"), P(b"k")), True),
    ((P(b"k"), delete(b"k")), True),
    ((txn(P(b"k")), txn(delete(b"k"))), False),       # a later nested delete is not seen
    ((txn(delete(b"k")), txn(P(b"k"))), True),
    ((P(b"k"), txn(delete(b"k"))), True),
    ((txn(P(b"k"), failure=(P(b"k"),)),), False),     # one of the two branches runs
    ((txn(P(b"k"), failure=(P(b"j"),)), P(b"j")), True),
    ((txn(P(b"k")), txn(failure=(P(b"k"),))), True),
    ((txn(failure=(P(b"k"),)), txn(P(b"k"))), True),
    ((delete(b"\x00", b"\x00"), P(b"b")), False),
    ((txn(txn(P(b"k"))), P(b"k")), True),
    ((txn(delete(b"a", b"c")), P(b"b")), True),
    ((txn(failure=(delete(b"a", b"c"),)), txn(P(b"b"))), True),
])
def test_duplicate_keys_as_etcd_finds_them(success: tuple[RequestOp, ...], refused: bool) -> None:
    request = TxnRequest(success=success)
    if refused:
        with pytest.raises(DuplicateKey):
            validate(request)
    else:
        validate(request)


def test_success_and_failure_may_write_the_same_key() -> None:
    validate(TxnRequest(success=(P(b"k"),), failure=(P(b"k"),)))
