"""Hypothesis strategies for the store's requests, reusable by any test.

Two families:

- ``*_requests(keys=...)`` draw *valid-looking* requests over a small key
  alphabet, so that state-machine tests hit the same keys again and again
  (overwrites, deletes, ranges that see several keys, compares that flip).
- ``any_request()`` draws every request type with arbitrary bytes and int64s,
  for encoding round trips.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

from confagent.kv import (
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
    WatchCreateRequest,
    prefix_end,
)

__all__ = [
    "KEYS",
    "LEASE_IDS",
    "any_request",
    "compaction_requests",
    "compares",
    "delete_range_requests",
    "int64s",
    "lease_grant_requests",
    "lease_revoke_requests",
    "put_requests",
    "range_ends",
    "range_requests",
    "txn_requests",
    "watch_specs",
    "write_requests",
]

KEYS = (b"a", b"a/1", b"a/2", b"a0", b"b", b"\xff", b"\xff\xff")
"""A small alphabet with prefixes, a prefix's end (``a0``) and 0xff bytes."""
LEASE_IDS = (1, 2, 3)

T = TypeVar("T")

int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_values = st.binary(max_size=3)
_leases = st.sampled_from((0, 0, 0, 0, 0, *LEASE_IDS))


def range_ends(key: bytes, keys: tuple[bytes, ...] = KEYS) -> st.SearchStrategy[bytes]:
    """A single key, its prefix, every key from it, or a range to another key."""
    return st.one_of(st.just(b""), st.just(prefix_end(key)), st.just(b"\x00"),
                     st.sampled_from(keys))


_RANGE_KINDS = ("single key", "prefix", "from key", "to another key")


def _keyed(keys: tuple[bytes, ...]) -> st.SearchStrategy[tuple[bytes, bytes]]:
    """A key and a range end for it, each kind of range as likely, or the whole keyspace."""
    def pair(choice: tuple[bytes, str, bytes]) -> tuple[bytes, bytes]:
        key, kind, other = choice
        ends = {"single key": b"", "prefix": prefix_end(key), "from key": b"\x00"}
        return key, ends.get(kind, other)
    keyed = st.tuples(st.sampled_from(keys), st.sampled_from(_RANGE_KINDS),
                      st.sampled_from(keys)).map(pair)
    return st.one_of(keyed, keyed, keyed, keyed, st.just((b"\x00", b"\x00")))


def put_requests(keys: tuple[bytes, ...] = KEYS) -> st.SearchStrategy[PutRequest]:
    plain = st.builds(PutRequest, key=st.sampled_from(keys), value=_values, lease=_leases,
                      prev_kv=st.booleans())
    ignoring = st.builds(PutRequest, key=st.sampled_from(keys), prev_kv=st.booleans(),
                         ignore_value=st.booleans(), ignore_lease=st.booleans())
    return st.one_of(plain, plain, plain, ignoring)


def delete_range_requests(keys: tuple[bytes, ...] = KEYS) -> st.SearchStrategy[DeleteRangeRequest]:
    return st.builds(lambda kr, prev: DeleteRangeRequest(kr[0], kr[1], prev),
                     _keyed(keys), st.booleans())


def _mostly(default: T, other: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``default`` three times in four: most requests leave most fields unset."""
    return st.one_of(st.just(default), st.just(default), st.just(default), other)


def range_requests(keys: tuple[bytes, ...] = KEYS,
                   max_revision: int = 40) -> st.SearchStrategy[RangeRequest]:
    revisions = st.integers(min_value=-1, max_value=max_revision)
    small = st.integers(min_value=0, max_value=max_revision // 2)
    return st.builds(
        lambda kr, **kw: RangeRequest(kr[0], kr[1], **kw), _keyed(keys),
        limit=_mostly(0, st.integers(min_value=-1, max_value=4)),
        revision=_mostly(0, revisions),
        sort_order=_mostly(SortOrder.NONE, st.sampled_from(SortOrder)),
        sort_target=st.sampled_from(SortTarget),
        keys_only=st.booleans(), count_only=_mostly(False, st.just(True)),
        min_mod_revision=_mostly(0, small),
        max_mod_revision=_mostly(0, small),
        min_create_revision=_mostly(0, small),
        max_create_revision=_mostly(0, small),
    )


def compares(keys: tuple[bytes, ...] = KEYS) -> st.SearchStrategy[Compare]:
    def build(target: CompareTarget, kr: tuple[bytes, bytes], result: CompareResult,
              number: int, value: bytes) -> Compare:
        operand: int | bytes = value if target == CompareTarget.VALUE else number
        return Compare(kr[0], target, result, operand, kr[1])
    return st.builds(build, st.sampled_from(CompareTarget), _keyed(keys),
                     st.sampled_from(CompareResult), st.integers(0, 12), _values)


def txn_requests(keys: tuple[bytes, ...] = KEYS, depth: int = 2,
                 max_ops: int = 4) -> st.SearchStrategy[TxnRequest]:
    ops: st.SearchStrategy[RequestOp] = st.one_of(
        put_requests(keys), delete_range_requests(keys), range_requests(keys))
    if depth > 1:
        ops = st.one_of(ops, txn_requests(keys, depth - 1, max_ops))
    branch = st.lists(ops, max_size=max_ops).map(tuple)
    txns = st.builds(TxnRequest, st.lists(compares(keys), max_size=3).map(tuple), branch, branch)
    return _short_repr(txns)


def compaction_requests(max_revision: int = 40) -> st.SearchStrategy[CompactionRequest]:
    return st.builds(CompactionRequest, st.integers(min_value=-1, max_value=max_revision),
                     st.booleans())


def lease_grant_requests() -> st.SearchStrategy[LeaseGrantRequest]:
    return st.builds(LeaseGrantRequest, ttl=st.integers(-5, 100), id=st.sampled_from(LEASE_IDS))


def lease_revoke_requests() -> st.SearchStrategy[LeaseRevokeRequest]:
    return st.builds(LeaseRevokeRequest, id=st.sampled_from(LEASE_IDS))


def write_requests(keys: tuple[bytes, ...] = KEYS) -> st.SearchStrategy[Request]:
    """Commands that may change keys: puts, deletes, txns and lease revokes (no compaction)."""
    puts, txns = put_requests(keys), txn_requests(keys)
    return _short_repr(st.one_of(puts, puts, puts, delete_range_requests(keys), txns, txns,
                                 lease_grant_requests(), lease_revoke_requests()))


def _short_repr(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """The same strategy, printed as one line: nested txn strategies print as many kilobytes,
    which hypothesis warns about (and warnings are errors here)."""
    return st.deferred(lambda: strategy)


def watch_specs(keys: tuple[bytes, ...] = KEYS,
                max_revision: int = 40) -> st.SearchStrategy[WatchCreateRequest]:
    return st.builds(
        lambda kr, **kw: WatchCreateRequest(kr[0], kr[1], **kw), _keyed(keys),
        start_revision=st.one_of(st.just(0), st.integers(1, max_revision)),
        no_put=st.booleans(), no_delete=st.booleans(), prev_kv=st.booleans())


# -- arbitrary values, for encodings ------------------------------------------------
_any_bytes = st.binary(max_size=40)


def _any_op(depth: int) -> st.SearchStrategy[RequestOp]:
    leaf: st.SearchStrategy[RequestOp] = st.one_of(
        st.builds(PutRequest, _any_bytes, _any_bytes, int64s, st.booleans(), st.booleans(),
                  st.booleans()),
        st.builds(DeleteRangeRequest, _any_bytes, _any_bytes, st.booleans()),
        st.builds(RangeRequest, _any_bytes, _any_bytes, int64s, int64s,
                  st.sampled_from(SortOrder), st.sampled_from(SortTarget), st.booleans(),
                  st.booleans(), st.booleans(), int64s, int64s, int64s, int64s),
    )
    if depth == 0:
        return leaf
    any_compare = st.builds(Compare, _any_bytes, st.sampled_from(CompareTarget),
                            st.sampled_from(CompareResult), st.one_of(int64s, _any_bytes),
                            _any_bytes)
    branch = st.lists(_any_op(depth - 1), max_size=3).map(tuple)
    txn = st.builds(TxnRequest, st.lists(any_compare, max_size=3).map(tuple), branch, branch)
    return st.one_of(leaf, txn)


def any_request() -> st.SearchStrategy[Request]:
    """Every command type, with arbitrary bytes and int64 fields."""
    return st.one_of(
        _any_op(2),
        st.builds(CompactionRequest, int64s, st.booleans()),
        st.builds(LeaseGrantRequest, int64s, int64s),
        st.builds(LeaseRevokeRequest, int64s),
    )
