"""``KvStore.hash_kv``: what etcd's HashKV promises — members with the same log answer the same hash."""

from __future__ import annotations

import pytest

from confagent.errors import Compacted, FutureRevision
from confagent.kv import CompactionRequest, DeleteRangeRequest, KvStore, Request
from tests.kv.helpers import apply_all, put

WRITES: list[Request] = [put(b"a", b"1"), put(b"b", b"2"), put(b"a", b"3"), DeleteRangeRequest(b"b")]


def store_with(requests: list[Request]) -> KvStore:
    store = KvStore()
    apply_all(store, requests)
    return store


def test_the_same_writes_hash_the_same_and_a_snapshot_restores_the_hash() -> None:
    one, two = store_with(WRITES), store_with(WRITES)
    assert one.hash_kv(one.revision) == two.hash_kv(two.revision)
    assert KvStore.restore(one.snapshot()).hash_kv(one.revision) == one.hash_kv(one.revision)


def test_a_different_value_or_a_later_revision_changes_the_hash() -> None:
    store = store_with(WRITES)
    other = store_with([*WRITES[:-1], put(b"b", b"x")])
    assert store.hash_kv(store.revision) != other.hash_kv(other.revision)
    assert store.hash_kv(store.revision - 1) != store.hash_kv(store.revision)


def test_a_past_revision_hashes_as_the_store_did_then() -> None:
    short, long = store_with(WRITES[:2]), store_with(WRITES)
    assert long.hash_kv(short.revision) == short.hash_kv(short.revision)


def test_compaction_hashes_only_the_versions_kept_and_refuses_older_revisions() -> None:
    store, same, uncompacted = store_with(WRITES), store_with(WRITES), store_with(WRITES)
    for compacted in (store, same):
        compacted.apply(CompactionRequest(revision=4))  # drops a's first version
    assert store.hash_kv(store.revision) == same.hash_kv(same.revision)
    assert store.hash_kv(store.revision) != uncompacted.hash_kv(uncompacted.revision)
    for refused in (3, 4):  # the compaction's own revision too, as etcd's HashByRev
        with pytest.raises(Compacted):
            store.hash_kv(refused)
    assert store.hash_kv(5) == store.hash_kv(store.revision)  # the first revision after it hashes
    with pytest.raises(FutureRevision):
        store.hash_kv(store.revision + 1)


def test_an_empty_store_hashes_to_a_value_not_zero() -> None:
    """etcd's hash of no keys is not 0 (it hashes its bucket's name first): a zero hash would be left
    out of the answer's JSON, where etcdctl endpoint hashkv -w json prints etcd's."""
    empty = KvStore()
    assert empty.hash_kv(empty.revision) != 0
