"""The literal examples of reference/etcd-v3-json.md §3 and §4, replayed on KvStore."""

from __future__ import annotations

import pytest

from confagent.errors import Compacted, FutureRevision, LeaseExists, LeaseNotFound
from confagent.kv import (
    CompactionRequest,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    EventType,
    KeyValue,
    KvStore,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseRevokeRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    Request,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    prefix_range,
)

from .helpers import apply_all, kv, put, reference_store

V, C, M, VAL, L = (CompareTarget.VERSION, CompareTarget.CREATE, CompareTarget.MOD,
                   CompareTarget.VALUE, CompareTarget.LEASE)
EQ, GT, LT, NE = CompareResult.EQUAL, CompareResult.GREATER, CompareResult.LESS, \
    CompareResult.NOT_EQUAL


def keys_of(response: RangeResponse) -> list[bytes]:
    return [item.key for item in response.kvs]


def test_revision_demo() -> None:
    """§3's revision_demo.txt, from a store at revision 36."""
    store = KvStore()
    for _ in range(35):
        store.apply(put(b"filler"))
    rk = b"rk"
    assert store.revision == 36
    assert store.apply(put(rk, b"v1")).revision == 37
    assert store.range(RangeRequest(rk)).kvs == (kv(rk, 37, 37, 1, b"v1"),)
    assert store.apply(put(rk, b"v2")).revision == 38
    again = store.apply(put(rk, b"v2", prev_kv=True))
    assert (again.revision, again.response) == (39, PutResponse(kv(rk, 37, 38, 2, b"v2"), 39))
    assert store.range(RangeRequest(rk)).kvs == (kv(rk, 37, 39, 3, b"v2"),)
    txn = TxnRequest(success=(put(rk, b"v3"), put(b"rk2", b"a"), put(b"rk3", b"b")))
    assert store.apply(txn).revision == 40
    assert store.range(RangeRequest(rk, b"rk4")).kvs == (
        kv(rk, 37, 40, 4, b"v3"), kv(b"rk2", 40, 40, 1, b"a"), kv(b"rk3", 40, 40, 1, b"b"))
    deleted = store.apply(DeleteRangeRequest(rk))
    assert (deleted.revision, deleted.response.deleted) == (41, 1)  # type: ignore[union-attr]
    assert store.range(RangeRequest(rk)) == RangeResponse(header_revision=41)
    assert store.apply(DeleteRangeRequest(rk)).revision == 41
    assert store.apply(put(rk, b"v4")).revision == 42
    assert store.range(RangeRequest(rk)).kvs == (kv(rk, 42, 42, 1, b"v4"),)
    assert store.range(RangeRequest(rk, revision=40)).kvs == (kv(rk, 37, 40, 4, b"v3"),)
    assert store.range(RangeRequest(rk, revision=41)).kvs == ()
    unchanged: list[Request] = [
        TxnRequest(success=(RangeRequest(rk),)),
        TxnRequest(compare=(Compare(rk, V, EQ, 99),), success=(put(rk, b"x"),)),
        LeaseGrantRequest(ttl=60, id=8001),
        LeaseRevokeRequest(id=8001),
        LeaseGrantRequest(ttl=60, id=8002),
    ]
    assert [applied.revision for applied in apply_all(store, unchanged)] == [42] * 5
    assert store.apply(put(b"rk2", b"l", lease=8002)).revision == 43
    assert store.apply(put(b"rk3", b"l", lease=8002)).revision == 44
    revoked = store.apply(LeaseRevokeRequest(id=8002))
    assert revoked.revision == 45
    assert [(e.type, e.kv.key) for e in revoked.events] == [
        (EventType.DELETE, b"rk2"), (EventType.DELETE, b"rk3")]
    assert store.apply(CompactionRequest(44)).revision == 45


def test_put_examples() -> None:
    """§4.1."""
    store = KvStore()
    assert store.apply(put(b"foo", b"bar")).revision == 2
    replaced = store.apply(put(b"foo", b"baz", prev_kv=True))
    assert (replaced.revision, replaced.response) == (3, PutResponse(kv(b"foo", 2, 2, 1, b"bar"), 3))
    fresh = store.apply(put(b"fresh", b"v", prev_kv=True))
    assert (fresh.revision, fresh.response) == (4, PutResponse(None, 4))
    kept = store.apply(put(b"foo", ignore_value=True, prev_kv=True))
    assert (kept.revision, kept.response) == (5, PutResponse(kv(b"foo", 2, 3, 2, b"baz"), 5))
    assert store.range(RangeRequest(b"foo")).kvs == (kv(b"foo", 2, 5, 3, b"baz"),)
    granted = store.apply(LeaseGrantRequest(ttl=600, id=7000))
    assert (granted.revision, granted.response) == (5, LeaseGrantResponse(7000, 600))
    assert store.apply(put(b"leased", b"lv", lease=7000)).revision == 6
    assert store.apply(put(b"leased", b"lv2", ignore_lease=True)).revision == 7
    assert store.range(RangeRequest(b"leased")).kvs == (kv(b"leased", 6, 7, 2, b"lv2", 7000),)
    assert store.apply(put(b"leased", b"lv3")).revision == 8
    assert store.range(RangeRequest(b"leased")).kvs == (kv(b"leased", 6, 8, 3, b"lv3"),)
    assert store.lease(7000).keys == ()  # type: ignore[union-attr]
    assert store.apply(put(b"empty")).revision == 9
    assert store.range(RangeRequest(b"empty")) == RangeResponse(
        kvs=(kv(b"empty", 9, 9, 1),), count=1, header_revision=9)


APP = prefix_range(b"app/")
APP_A, APP_B = kv(b"app/a", 10, 14, 2, b"val-z"), kv(b"app/b", 11, 11, 1, b"val-b")
APP_C, APP_D = kv(b"app/c", 12, 12, 1, b"val-c"), kv(b"app/d", 13, 13, 1, b"val-d")


def bare(*kvs: KeyValue) -> tuple[KeyValue, ...]:
    """The key-values as keys_only returns them."""
    return tuple(kv(k.key, k.create_revision, k.mod_revision, k.version, b"", k.lease)
                 for k in kvs)


@pytest.mark.parametrize(("request_", "expected"), [
    (RangeRequest(b"app/a"), RangeResponse((APP_A,), count=1)),
    (RangeRequest(b"nope"), RangeResponse()),
    (RangeRequest(*APP), RangeResponse((APP_A, APP_B, APP_C, APP_D), count=4)),
    (RangeRequest(b"fresh", b"\x00", keys_only=True),
     RangeResponse(bare(kv(b"fresh", 4, 4, 1), kv(b"leased", 6, 8, 3)), count=2)),
    (RangeRequest(b"\x00", b"\x00", count_only=True), RangeResponse(count=8)),
    (RangeRequest(*APP, limit=2), RangeResponse((APP_A, APP_B), more=True, count=4)),
    (RangeRequest(*APP, revision=10),
     RangeResponse((kv(b"app/a", 10, 10, 1, b"val-a"),), count=1)),
    (RangeRequest(*APP, keys_only=True), RangeResponse(bare(APP_A, APP_B, APP_C, APP_D), count=4)),
    (RangeRequest(*APP, count_only=True), RangeResponse(count=4)),
    (RangeRequest(*APP, keys_only=True, sort_order=SortOrder.DESCEND),
     RangeResponse(bare(APP_D, APP_C, APP_B, APP_A), count=4)),
    (RangeRequest(*APP, sort_order=SortOrder.DESCEND, sort_target=SortTarget.MOD, limit=1),
     RangeResponse((APP_A,), more=True, count=4)),
    (RangeRequest(*APP, sort_target=SortTarget.VALUE, keys_only=True),
     RangeResponse(bare(APP_B, APP_C, APP_D, APP_A), count=4)),
    (RangeRequest(*APP, sort_order=SortOrder.DESCEND, sort_target=SortTarget.CREATE,
                  keys_only=True), RangeResponse(bare(APP_D, APP_C, APP_B, APP_A), count=4)),
    (RangeRequest(b"app/b", serializable=True), RangeResponse((APP_B,), count=1)),
    (RangeRequest(*APP, min_mod_revision=12, keys_only=True),
     RangeResponse(bare(APP_A, APP_C, APP_D), count=4)),
    (RangeRequest(*APP, max_mod_revision=11, keys_only=True), RangeResponse(bare(APP_B), count=4)),
    (RangeRequest(*APP, min_create_revision=12, max_create_revision=12, keys_only=True),
     RangeResponse(bare(APP_C), count=4)),
    (RangeRequest(*APP, keys_only=True, count_only=True), RangeResponse(count=4)),
])
def test_range_examples(request_: RangeRequest, expected: RangeResponse) -> None:
    """§4.2: the header still names 14, also for the historical read."""
    store = reference_store("4.1", "4.2")
    got = store.range(request_)
    assert got == RangeResponse(expected.kvs, expected.more, expected.count, header_revision=14)


def test_delete_range_examples() -> None:
    """§4.3."""
    store = reference_store("4.1", "4.2")
    first = store.apply(DeleteRangeRequest(b"fresh"))
    assert (first.revision, first.response) == (15, DeleteRangeResponse(1, (), 15))
    again = store.apply(DeleteRangeRequest(b"fresh"))
    assert (again.revision, again.response, again.events) == (15, DeleteRangeResponse(0, (), 15), ())
    apply_all(store, [put(b"tmp/1", b"one"), put(b"tmp/2", b"two")])
    both = store.apply(DeleteRangeRequest(*prefix_range(b"tmp/"), prev_kv=True))
    assert (both.revision, both.response) == (18, DeleteRangeResponse(
        2, (kv(b"tmp/1", 16, 16, 1, b"one"), kv(b"tmp/2", 17, 17, 1, b"two")), 18))


def test_txn_examples() -> None:
    """§4.4, in order."""
    store = reference_store("4.1", "4.2", "4.3")
    foo_19 = kv(b"foo", 2, 19, 4, b"qux")
    swap = TxnRequest(compare=(Compare(b"foo", VAL, EQ, b"baz"),),
                      success=(put(b"foo", b"qux", prev_kv=True), RangeRequest(b"foo")),
                      failure=(RangeRequest(b"foo"),))
    done = store.apply(swap)
    assert (done.revision, done.response) == (19, TxnResponse(True, (
        PutResponse(kv(b"foo", 2, 5, 3, b"baz"), 19), RangeResponse((foo_19,), count=1,
                                                                    header_revision=19))))
    lost = store.apply(swap)
    assert (lost.revision, lost.response) == (19, TxnResponse(False, (
        RangeResponse((foo_19,), count=1, header_revision=19),)))

    def lock(value: bytes) -> TxnRequest:
        return TxnRequest(compare=(Compare(b"lock", V, EQ, 0),),
                          success=(put(b"lock", value),), failure=(RangeRequest(b"lock"),))
    assert store.apply(lock(b"me")).response == TxnResponse(True, (PutResponse(None, 20),))
    assert store.apply(lock(b"you")).response == TxnResponse(False, (
        RangeResponse((kv(b"lock", 20, 20, 1, b"me"),), count=1, header_revision=20),))
    assert store.apply(TxnRequest(compare=(Compare(b"foo", V, GT, 1),))).response == \
        TxnResponse(True)
    unlock = store.apply(TxnRequest(
        compare=(Compare(b"foo", C, EQ, 2), Compare(b"foo", M, LT, 100)),
        success=(DeleteRangeRequest(b"lock", prev_kv=True),)))
    assert (unlock.revision, unlock.response) == (21, TxnResponse(True, (
        DeleteRangeResponse(1, (kv(b"lock", 20, 20, 1, b"me"),), 21),)))
    false = store.apply(TxnRequest(compare=(Compare(b"app/b", M, NE, 11),),
                                   success=(put(b"x", b"y"),)))
    assert (false.revision, false.response) == (21, TxnResponse(False))

    store.apply(put(b"leased2", lease=7000))
    by_lease = store.apply(TxnRequest(compare=(Compare(b"leased2", L, EQ, 7000),),
                                      success=(RangeRequest(b"leased2", keys_only=True),)))
    assert by_lease.response == TxnResponse(True, (
        RangeResponse((kv(b"leased2", 22, 22, 1, lease=7000),), count=1, header_revision=22),))
    every = TxnRequest(compare=(Compare(b"app/", M, GT, 9, range_end=b"app0"),))
    assert store.apply(every).response == TxnResponse(True)
    missing = TxnRequest(compare=(Compare(b"missing", VAL, NE, b"zzz"),))
    assert store.apply(missing).response == TxnResponse(False)

    several = store.apply(TxnRequest(success=(
        put(b"m/1", b"a"), put(b"m/2", b"b"), DeleteRangeRequest(b"x"),
        RangeRequest(*prefix_range(b"m/")))))
    assert (several.revision, several.response) == (23, TxnResponse(True, (
        PutResponse(None, 23), PutResponse(None, 23), DeleteRangeResponse(0, (), 23),
        RangeResponse((kv(b"m/1", 23, 23, 1, b"a"), kv(b"m/2", 23, 23, 1, b"b")), count=2,
                      header_revision=23))))
    nested = store.apply(TxnRequest(
        compare=(Compare(b"m/1", V, EQ, 1),),
        success=(TxnRequest(compare=(Compare(b"m/2", VAL, EQ, b"nope"),),
                            success=(put(b"m/3", b"inner-success"),),
                            failure=(put(b"m/3", b"inner-failure"),)),
                 RangeRequest(b"m/1", count_only=True))))
    assert (nested.revision, nested.response) == (24, TxnResponse(True, (
        TxnResponse(False, (PutResponse(None, 24),)), RangeResponse(count=1, header_revision=24))))
    assert store.range(RangeRequest(b"m/3")).kvs == (kv(b"m/3", 24, 24, 1, b"inner-failure"),)
    assert store.apply(TxnRequest()).response == TxnResponse(True)
    assert store.apply(TxnRequest(compare=(Compare(b"foo"),))).response == TxnResponse(False)
    assert store.apply(TxnRequest(compare=(Compare(b"foo", VAL, GT, b"a"),))).response == \
        TxnResponse(True)
    assert store.revision == 24


def compacted_store() -> KvStore:
    """§4.5's store: the §4.1-§4.4 writes, the watch section's writes up to 30, compacted at 25."""
    store = reference_store("4.1", "4.2", "4.3", "4.4")
    apply_all(store, [
        put(b"app/e", b"val-e"), put(b"app/e", b"val-e2"),                      # 25, 26
        TxnRequest(success=(put(b"app/f", b"f"), put(b"app/g", b"g"))),        # 27
        DeleteRangeRequest(b"app/e", b"app/g"), put(b"foo", b"watched"),       # 28, 29
        put(b"other"),                                                          # 30
    ])
    assert store.apply(CompactionRequest(25, physical=True)).revision == 30
    return store


def test_compaction_examples() -> None:
    """§4.5."""
    store = compacted_store()
    with pytest.raises(Compacted):
        store.apply(CompactionRequest(25))
    with pytest.raises(FutureRevision):
        store.apply(CompactionRequest(1030))
    with pytest.raises(Compacted):
        store.range(RangeRequest(b"foo", revision=24))
    assert store.range(RangeRequest(b"foo", revision=25)).kvs == (kv(b"foo", 2, 19, 4, b"qux"),)
    old_read = RangeRequest(b"foo", revision=3)
    with pytest.raises(Compacted):
        store.apply(TxnRequest(success=(old_read,)))
    with pytest.raises(Compacted):
        store.apply(TxnRequest(compare=(Compare(b"foo", V, EQ, 99),), failure=(old_read,)))
    untaken = store.apply(TxnRequest(compare=(Compare(b"foo", V, EQ, 5),),
                                     success=(RangeRequest(b"foo"),), failure=(old_read,)))
    assert untaken.response.succeeded  # type: ignore[union-attr]
    assert store.revision == 30 and store.compact_revision == 25


def test_lease_examples() -> None:
    """§4.7: grant, duplicate, minimum TTL, revoke deleting keys in one revision."""
    store = KvStore()
    assert store.apply(LeaseGrantRequest(ttl=60, id=1875364458795658058)).response == \
        LeaseGrantResponse(1875364458795658058, 60)
    assert store.apply(LeaseGrantRequest(ttl=30, id=4242)).response == LeaseGrantResponse(4242, 30)
    with pytest.raises(LeaseExists):
        store.apply(LeaseGrantRequest(ttl=30, id=4242))
    assert store.apply(LeaseGrantRequest(ttl=1, id=5000)).response == LeaseGrantResponse(5000, 2)
    assert store.apply(LeaseGrantRequest(ttl=-5, id=5001)).response == LeaseGrantResponse(5001, 2)
    apply_all(store, [put(b"svc/b", lease=4242), put(b"svc/a", lease=4242)])
    info = store.lease(4242)
    assert info is not None and (info.ttl, info.keys) == (30, (b"svc/a", b"svc/b"))
    revoked = store.apply(LeaseRevokeRequest(id=4242))
    assert revoked.revision == 4
    assert [(e.type, e.kv, e.prev_kv) for e in revoked.events] == [
        (EventType.DELETE, kv(b"svc/a", 0, 4, 0), kv(b"svc/a", 3, 3, 1, lease=4242)),
        (EventType.DELETE, kv(b"svc/b", 0, 4, 0), kv(b"svc/b", 2, 2, 1, lease=4242)),
    ]
    assert store.lease(4242) is None
    with pytest.raises(LeaseNotFound):
        store.apply(LeaseRevokeRequest(id=4242))
    with pytest.raises(LeaseNotFound):
        store.apply(put(b"k", lease=4242))
    assert store.lease_ids() == (1875364458795658058, 5000, 5001)
