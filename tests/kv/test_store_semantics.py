"""Behaviour checked against a real etcd 3.4.23 beyond the reference's examples.

Each test names what etcd answered to the same requests (gateway JSON, run by
hand against ``etcd --data-dir $(mktemp -d)``), so the expectations are facts,
not readings of the source.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from confagent.errors import Compacted, KeyNotFound, LeaseNotFound
from confagent.kv import (
    CompactionRequest,
    Compare,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    EventType,
    KvStore,
    LeaseGrantRequest,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    prefix_range,
)

from .helpers import apply_all, kv, put


def test_read_before_the_first_write_of_a_txn_names_the_old_revision() -> None:
    """etcd: [range a, put b, range a] -> headers 2, 3, 3."""
    store = KvStore()
    store.apply(put(b"a", b"1"))
    applied = store.apply(TxnRequest(success=(RangeRequest(b"a"), put(b"b", b"x"),
                                              RangeRequest(b"a"))))
    a = kv(b"a", 2, 2, 1, b"1")
    assert applied.response == TxnResponse(True, (
        RangeResponse((a,), count=1, header_revision=2), PutResponse(None, 3),
        RangeResponse((a,), count=1, header_revision=3)))
    noop = store.apply(TxnRequest(success=(DeleteRangeRequest(b"zz"),)))
    assert noop.response == TxnResponse(True, (DeleteRangeResponse(0, (), 3),))


def test_nested_compares_see_the_store_before_the_txn() -> None:
    """etcd: put n1 then a nested 'version(n1) == 0' -> the nested compare holds."""
    store = KvStore()
    applied = store.apply(TxnRequest(success=(
        put(b"n1", b"x"),
        TxnRequest(compare=(Compare(b"n1"),), success=(RangeRequest(b"n1"),)),
    )))
    inner = applied.response.responses[1]  # type: ignore[union-attr]
    assert inner == TxnResponse(True, (RangeResponse((kv(b"n1", 2, 2, 1, b"x"),), count=1,
                                                     header_revision=2),))


def test_no_sort_order_with_a_target_sorts_only_limit_plus_one_keys() -> None:
    """etcd: t/a..t/c at version 3, t/d at version 1; NONE+VERSION limit 1 -> t/a, limit 3 ->
    t/d, t/a, t/b; ASCEND+VERSION limit 1 -> t/d."""
    store = KvStore()
    for key, versions in [(b"t/a", 3), (b"t/b", 3), (b"t/c", 3), (b"t/d", 1)]:
        apply_all(store, [put(key, b"x")] * versions)

    def keys(**options: object) -> list[bytes]:
        response = store.range(RangeRequest(*prefix_range(b"t/"), **options))  # type: ignore[arg-type]
        assert response.count == 4
        return [item.key for item in response.kvs]
    assert keys(sort_target=SortTarget.VERSION, limit=1) == [b"t/a"]
    assert keys(sort_target=SortTarget.VERSION, limit=3) == [b"t/d", b"t/a", b"t/b"]
    assert keys(sort_order=SortOrder.ASCEND, sort_target=SortTarget.VERSION, limit=1) == [b"t/d"]
    assert keys(sort_order=SortOrder.DESCEND, sort_target=SortTarget.VERSION) == [
        b"t/a", b"t/b", b"t/c", b"t/d"]
    assert keys(sort_order=SortOrder.DESCEND, limit=2) == [b"t/d", b"t/c"]


def test_put_in_one_nested_txn_and_delete_in_a_later_one() -> None:
    """etcd allows it (checkIntervals' order); both events share the revision and the delete's
    prev_kv is the key before the txn: none here."""
    store = KvStore()
    applied = store.apply(TxnRequest(success=(
        TxnRequest(success=(put(b"k", b"v"),)),
        TxnRequest(success=(DeleteRangeRequest(b"k"),)),
    )))
    assert applied.revision == 2
    assert applied.events == (Event(EventType.PUT, kv(b"k", 2, 2, 1, b"v")),
                              Event(EventType.DELETE, kv(b"k", 0, 2, 0)))
    assert store.range(RangeRequest(b"k")).kvs == ()
    assert list(store.history(2)) == [(2, applied.events)]
    assert store.key_count() == 0


def test_a_key_deleted_and_created_again_in_one_txn() -> None:
    """etcd: [delete rc..'\\0', put rc] -> DELETE with prev_kv, then a creation without one."""
    store = KvStore()
    store.apply(put(b"rc", b"1"))
    applied = store.apply(TxnRequest(success=(DeleteRangeRequest(b"rc", b"\x00"),
                                              put(b"rc", b"2"))))
    expected = (Event(EventType.DELETE, kv(b"rc", 0, 3, 0), kv(b"rc", 2, 2, 1, b"1")),
                Event(EventType.PUT, kv(b"rc", 3, 3, 1, b"2")))
    assert applied.events == expected
    assert list(store.history(3)) == [(3, expected)]


def test_compaction_keeps_puts_but_not_deletes_at_its_revision() -> None:
    """etcd: a watch from C sees the puts made at C (without prev_kv: C-1 is gone) and not the
    deletes; a watch from C-1 is canceled with compact_revision C."""
    store = KvStore()
    apply_all(store, [put(b"w/x", b"1"), put(b"w/y", b"1")])
    at_c = store.apply(TxnRequest(success=(
        DeleteRangeRequest(b"w/x"), put(b"w/y", b"2"), put(b"w/z", b"1"))))
    apply_all(store, [put(b"w/y", b"3"), put(b"w/x", b"again")])
    store.apply(CompactionRequest(at_c.revision))
    history = list(store.history(at_c.revision))
    assert history == [
        (4, (Event(EventType.PUT, kv(b"w/y", 3, 4, 2, b"2")),
             Event(EventType.PUT, kv(b"w/z", 4, 4, 1, b"1")))),
        (5, (Event(EventType.PUT, kv(b"w/y", 3, 5, 3, b"3"), kv(b"w/y", 3, 4, 2, b"2")),)),
        (6, (Event(EventType.PUT, kv(b"w/x", 6, 6, 1, b"again")),)),
    ]
    with pytest.raises(Compacted):
        store.history(at_c.revision - 1)
    assert store.range(RangeRequest(*prefix_range(b"w/"), revision=4)).kvs == (
        kv(b"w/y", 3, 4, 2, b"2"), kv(b"w/z", 4, 4, 1, b"1"))


def test_revision_bounds_of_reads_and_compactions_on_a_fresh_store() -> None:
    """etcd (fresh): txn range revision -5 -> compacted, -1 -> fine; compaction -1 -> compacted;
    compaction 0 -> fine once (etcd starts at -1), then compacted."""
    store = KvStore()
    with pytest.raises(Compacted):
        store.apply(TxnRequest(success=(RangeRequest(b"a", revision=-5),)))
    store.apply(TxnRequest(success=(RangeRequest(b"a", revision=-1),)))
    assert store.range(RangeRequest(b"a", revision=-5)) == RangeResponse(header_revision=1)
    with pytest.raises(Compacted):
        store.apply(CompactionRequest(-1))
    store.apply(CompactionRequest(0))
    assert store.compact_revision == 0
    with pytest.raises(Compacted):
        store.apply(CompactionRequest(0))


def test_taken_branch_errors_change_nothing() -> None:
    store = KvStore()
    store.apply(put(b"a", b"1"))
    before = store.snapshot()
    writes_then_fails = [
        TxnRequest(success=(put(b"b", b"2"), put(b"c", lease=9))),
        TxnRequest(success=(put(b"b", b"2"), put(b"missing", ignore_value=True))),
        TxnRequest(success=(put(b"b", b"2"), TxnRequest(success=(
            put(b"missing", ignore_lease=True),)))),
    ]
    for request, error in zip(writes_then_fails, [LeaseNotFound, KeyNotFound, KeyNotFound],
                              strict=True):
        with pytest.raises(error):
            store.apply(request)
        assert store.snapshot() == before
    absent = Compare(b"a", CompareTarget.VERSION)  # false: "a" exists
    untaken = TxnRequest(compare=(absent,), success=(put(b"c", lease=9),),
                         failure=(put(b"b", b"2"),))
    assert store.apply(untaken).revision == 3


def test_put_checks_come_before_range_checks() -> None:
    """etcd's applier checks every put of the taken path, then every range."""
    store = KvStore()
    with pytest.raises(LeaseNotFound):
        store.apply(TxnRequest(success=(RangeRequest(b"a", revision=99), put(b"k", lease=5))))


def test_standalone_put_checks_the_lease_before_the_key() -> None:
    with pytest.raises(LeaseNotFound):
        KvStore().apply(PutRequest(b"missing", lease=5, ignore_value=True))


def test_lease_attachment_follows_the_current_version() -> None:
    store = KvStore()
    apply_all(store, [LeaseGrantRequest(ttl=10, id=1), LeaseGrantRequest(ttl=10, id=2),
                      put(b"k", lease=1), put(b"j", lease=1)])
    store.apply(put(b"k", lease=2))
    store.apply(DeleteRangeRequest(b"j"))
    assert store.lease(1).keys == ()  # type: ignore[union-attr]
    assert store.lease(2).keys == (b"k",)  # type: ignore[union-attr]
    assert store.apply(put(b"k", b"v", prev_kv=True)).response == PutResponse(
        kv(b"k", 2, 4, 2, lease=2), 6)
    assert store.lease(2).keys == ()  # type: ignore[union-attr]


def test_a_hundred_thousand_keys_stay_lean() -> None:
    """100,000 keys with 100-byte values cost well under 60 MB, values included."""
    gc.collect()
    tracemalloc.start()
    try:
        store = KvStore()
        for i in range(100_000):
            store.apply(PutRequest(b"key/%08d" % i, bytes(100)))
        gc.collect()
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert store.key_count() == 100_000
    assert used < 45_000_000, used
