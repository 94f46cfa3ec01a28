"""etcd's database read into the store's state: what compaction keeps, leases, and refusals (pure).

The retention rule is checked against the store's own compaction: a ``KvStore`` is
given a workload and never compacted, its whole history is handed to
``etcd_store_state`` as etcd's key bucket would hold it, and the state that comes out
for each compaction point must be the one the same store has after compacting there.
Reading real files etcd saved is tests/e2e/test_etcd_snapshot_restore.py's.
"""

from __future__ import annotations

import struct

import pytest

from confagent.auth import AuthState
from confagent.errors import StorageError
from confagent.kv import (
    CompactionRequest,
    DeleteRangeRequest,
    KeyValue,
    KvStore,
    LeaseGrantRequest,
    PutRequest,
    TxnRequest,
)
from confagent.wire import BoltBucket, BoltDb, EtcdDatabase, etcd_store_state, read_bolt, read_etcd_database
from confagent.wire._pb import kv_pb2, lease_pb2
from tests.wire import bolt_files

LEASE = 0x77


def _workload() -> KvStore:
    kv = KvStore()
    kv.apply(LeaseGrantRequest(ttl=60, id=LEASE))
    for key, value in ((b"a", b"1"), (b"b", b"2"), (b"a", b"2"), (b"c", b"3")):
        kv.apply(PutRequest(key=key, value=value))
    kv.apply(TxnRequest(success=(PutRequest(key=b"a", value=b"3"), DeleteRangeRequest(key=b"b"),
                                 PutRequest(key=b"d", value=b"4"))))
    kv.apply(PutRequest(key=b"l", value=b"x", lease=LEASE))
    kv.apply(DeleteRangeRequest(key=b"c"))
    kv.apply(PutRequest(key=b"c", value=b"again"))
    kv.apply(DeleteRangeRequest(key=b"a", range_end=b"b"))
    kv.apply(PutRequest(key=b"b", value=b"back"))
    kv.apply(DeleteRangeRequest(key=b"d"))
    return kv


def _database(versions: tuple[KeyValue, ...], revision: int, compacted: int) -> EtcdDatabase:
    return EtcdDatabase(revision=revision, compacted=compacted, consistent_index=0, versions=versions,
                        leases=((LEASE, 60),), auth=AuthState(),
                        bolt=BoltDb(page_size=4096, high_water=2, txid=1, root=BoltBucket(())))


@pytest.mark.parametrize("compacted", [-1, *range(1, 12)])
def test_what_compaction_keeps_is_what_the_stores_own_compaction_keeps(compacted: int) -> None:
    history = _workload().snapshot_state()
    assert history.compacted == -1 and history.base == ()
    expected = _workload()
    if compacted >= 0:
        expected.apply(CompactionRequest(revision=compacted))
    ours = etcd_store_state(_database(history.log, history.revision, compacted))
    assert ours == expected.snapshot_state()


def test_a_key_on_a_lease_the_database_lacks_is_refused() -> None:
    versions = (KeyValue(b"k", 2, 2, 1, b"v", lease=LEASE + 1),)
    with pytest.raises(StorageError, match="attached to lease 78, which the database does not hold"):
        etcd_store_state(_database(versions, 2, -1))
    detached = (*versions, KeyValue(b"k", 2, 3, 2, b"w"))
    assert etcd_store_state(_database(detached, 3, -1)).log == detached


@pytest.mark.parametrize(("data", "words"), [
    (b"", "shorter than its meta page"),
    (bytes(4096 * 2), "not a bbolt database: meta page 0 has magic 0x0"),
    (struct.pack("<QHHIIIII", 0, 4, 0, 0, 0xED0CDAED, 1, 4096, 0) + bytes(8192),
     "bbolt database version 1, expected 2"),
])
def test_what_is_not_a_bbolt_database_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(StorageError, match=words):
        read_bolt(data)


# -- files made by hand (tests/wire/bolt_files.py) --------------------------------------------


def _revision(main: int, sub: int = 0, tombstone: bool = False) -> bytes:
    return struct.pack(">Q", main) + b"_" + struct.pack(">Q", sub) + (b"t" if tombstone else b"")


def _kv(key: bytes, create: int, mod: int, version: int, value: bytes) -> bytes:
    return kv_pb2.KeyValue(key=key, create_revision=create, mod_revision=mod, version=version,
                           value=value).SerializeToString()


def _etcd_buckets(**extra: list[bolt_files.Entry]) -> dict[bytes, list[bolt_files.Entry]]:
    buckets: dict[bytes, list[bolt_files.Entry]] = {
        b"key": [(_revision(2), _kv(b"a", 2, 2, 1, b"1"), 0),
                 (_revision(3), _kv(b"a", 2, 3, 2, b"2"), 0),
                 (_revision(4, tombstone=True), kv_pb2.KeyValue(key=b"a").SerializeToString(), 0)],
        b"meta": [(b"consistent_index", struct.pack(">Q", 9), 0)],
        b"lease": [(struct.pack(">Q", 5), lease_pb2.Lease(ID=5, TTL=30).SerializeToString(), 0)],
    }
    buckets.update({name.encode(): entries for name, entries in extra.items()})
    return buckets


def test_a_database_made_by_hand_reads_as_etcds_would() -> None:
    database = read_etcd_database(bolt_files.one_leaf_database(_etcd_buckets()))
    assert (database.revision, database.compacted, database.consistent_index) == (4, -1, 9)
    assert database.versions == (KeyValue(b"a", 2, 2, 1, b"1"), KeyValue(b"a", 2, 3, 2, b"2"),
                                 KeyValue(b"a", 0, 4, 0))
    assert database.leases == ((5, 30),)


@pytest.mark.parametrize(("buckets", "words"), [
    ({b"key": []}, "no 'key' or 'meta' bucket"),
    (_etcd_buckets(meta=[(b"storageVersion", b"3.6", 0)]), "written by a later etcd"),
    (_etcd_buckets(key=[(b"not-a-revision", b"", 0)]),
     "bucket 'key': 6e6f742d612d7265766973696f6e is not a revision"),
    (_etcd_buckets(key=[(_revision(2), b"\xff\xff", 0)]), "is not a mvccpb.KeyValue"),
    (_etcd_buckets(key=[(_revision(2), _kv(b"a", 2, 7, 1, b""), 0)]), "with mod_revision 7"),
    (_etcd_buckets(lease=[(struct.pack(">Q", 6), lease_pb2.Lease(ID=5).SerializeToString(), 0)]),
     "key 0000000000000006 holds lease 5"),
    (_etcd_buckets(key=[(_revision(3), _kv(b"a", 3, 3, 1, b""), 0),
                        (_revision(2), _kv(b"b", 2, 2, 1, b""), 0)]), "keys out of order"),
])
def test_what_is_not_etcd_34s_database_is_refused(buckets: dict[bytes, list[bolt_files.Entry]],
                                                   words: str) -> None:
    with pytest.raises(StorageError, match=words):
        read_etcd_database(bolt_files.one_leaf_database(buckets))


def _leaf(page_id: int, entries: list[bolt_files.Entry], stored_id: int | None = None) -> bytes:
    stored = page_id if stored_id is None else stored_id
    return bolt_files.page(stored, bolt_files.LEAF, len(entries), bolt_files.leaf_body(entries))


def _root(*buckets: tuple[bytes, int]) -> bytes:
    entries = [(name, bolt_files.bucket_at(page_id), bolt_files.BUCKET_FLAG) for name, page_id in buckets]
    return _leaf(2, entries)


@pytest.mark.parametrize(("data", "words"), [
    (bolt_files.database([_root((b"a", 3)), _leaf(3, [], stored_id=9)]), "page 3: its header says page 9"),
    (bolt_files.database([_root((b"a", 3), (b"b", 3)), _leaf(3, [])]), "page 3: multiple references"),
    (bolt_files.database([_root((b"a", 7))]), r"page 7: out of bounds \(pages in use: 3\)"),
    (bolt_files.database([_root((b"a", 1))]), "page 1: out of bounds"),
    (bolt_files.database([_root((b"a", 3)), bolt_files.page(3, bolt_files.FREELIST, 0, b"")]),
     "page 3: type 0x10 where a branch or leaf page belongs"),
    (bolt_files.database([_root((b"a", 3)), _leaf(3, []),
                          bolt_files.page(4, bolt_files.FREELIST, 1, struct.pack("<Q", 3))], freelist=4),
     "page 3: reachable and on the freelist"),
    (bolt_files.database([_root((b"a", 3))])[:3 * bolt_files.PAGE_BYTES - 10], "page 2: runs past the end"),
    (bolt_files.database([bolt_files.page(2, bolt_files.BRANCH, 1, struct.pack("<IIQ", 16, 0, 2))]),
     "page 2: multiple references"),
])
def test_a_damaged_page_is_refused_saying_which(data: bytes, words: str) -> None:
    with pytest.raises(StorageError, match=words):
        read_bolt(data)


def test_a_bad_newer_meta_page_falls_back_to_the_older_one() -> None:
    data = bytearray(bolt_files.one_leaf_database(_etcd_buckets()))
    data[16 + 56] ^= 1  # meta page 0 (transaction 2) fails its checksum; page 1 has transaction 1
    assert read_bolt(bytes(data)).txid == 1
    data[bolt_files.PAGE_BYTES + 16 + 56] ^= 1
    with pytest.raises(StorageError, match="fails its checksum"):
        read_bolt(bytes(data))
