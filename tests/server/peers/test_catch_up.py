"""The leader's catch-up snapshot (``peers._catch_up``) on a real member and its data directory.

A lone StoreNode taking a snapshot every few entries (its log compacted to each):
its ``catch_up.source``, the Raft core's snapshot source, answers None at the first
ask and reads the newest snapshot file off the event loop's thread; then every ask
is answered with that one snapshot, the same bytes, until the log is compacted past
it. With no file to read, or the newest far behind the applied state, the state is
encoded in the worker thread instead; a job that fails raises at the next ask.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from confagent.auth import AuthState
from confagent.errors import StorageError
from confagent.kv import KvStore, PutRequest, RangeRequest
from confagent.raft import Snapshot, SnapshotMeta
from confagent.server.membership import MemberTable
from confagent.server.node import NodeConfig, StoreNode
from confagent.server.node._payload import Payload, capture_payload
from confagent.server.peers import CatchUpSnapshot
from confagent.server.storage import SnapshotFiles
from confagent.testing import until_async

SNAPSHOT_ENTRIES = 10


def _snap_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "member" / "snap").glob("*.snap"))


async def _at_hand(node: StoreNode) -> Snapshot:
    await until_async(lambda: node.catch_up.source() is not None, "the catch-up snapshot at hand")
    snapshot = node.catch_up.source()
    assert snapshot is not None
    return snapshot


async def _put_until_compacted_past(node: StoreNode, index: int, prefix: bytes) -> int:
    """Puts (keys ``prefix`` + a number) until the log is compacted past ``index``; how many."""
    n = 0
    while node.core.log.offset <= index:
        await node.propose(PutRequest(prefix + b"%03d" % n, b"v"))
        n += 1
        await asyncio.sleep(0)  # let the snapshotter's job be collected between puts
    return n


async def shared_and_renewed(data_dir: Path, readers: list[int]) -> None:
    node = await StoreNode.open(NodeConfig(data_dir=data_dir, member_id=1, cluster_id=1,
                                           snapshot_entries=SNAPSHOT_ENTRIES))
    await node.start()
    try:
        await _put_until_compacted_past(node, 0, b"a/")
        assert node.catch_up.source() is None and node.catch_up.jobs == 1  # nothing read on the loop
        first = await _at_hand(node)
        jobs = node.catch_up.jobs  # 1, or 2 when a snapshot still being written compacted past the first read
        assert first.meta.index >= node.core.log.offset
        assert any(path.name.startswith(f"{first.meta.index:016x}-") for path in _snap_files(data_dir))
        assert threading.get_ident() not in readers and readers, "the file is read in a worker thread"
        for _ in range(5):  # five learners behind: one snapshot, the same bytes, one read
            again = node.catch_up.source()
            assert again is first
        assert node.catch_up.jobs == jobs
        await _put_until_compacted_past(node, first.meta.index, b"b/")
        assert node.catch_up.source() is None  # the log no longer reaches back to it
        second = await _at_hand(node)
        assert second.meta.index > first.meta.index and node.catch_up.jobs > jobs
    finally:
        await node.stop()


def test_one_snapshot_is_read_off_the_loop_shared_and_renewed_past_compaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readers: list[int] = []
    load_latest = SnapshotFiles.load_latest

    def recorded(files: SnapshotFiles) -> tuple[SnapshotMeta, bytes] | None:
        readers.append(threading.get_ident())
        return load_latest(files)

    monkeypatch.setattr(SnapshotFiles, "load_latest", recorded)
    asyncio.run(shared_and_renewed(tmp_path, readers))


async def encoded_without_a_file(data_dir: Path) -> None:
    node = await StoreNode.open(NodeConfig(data_dir=data_dir, member_id=1, cluster_id=1,
                                           snapshot_entries=SNAPSHOT_ENTRIES))
    await node.start()
    try:
        puts = await _put_until_compacted_past(node, 0, b"a/")
        for path in _snap_files(data_dir):  # none left to read: the state is encoded instead
            path.unlink()
        snapshot = await _at_hand(node)
        assert snapshot.meta.index == node.core.log.applied
        store = KvStore.restore(Payload.read(snapshot.data).kv_data)
        kvs = store.range(RangeRequest(key=b"a/", range_end=b"a0")).kvs
        assert len(kvs) == puts
    finally:
        await node.stop()


def test_without_a_snapshot_file_the_state_is_encoded_off_the_loop(tmp_path: Path) -> None:
    asyncio.run(encoded_without_a_file(tmp_path))


async def a_failing_job() -> None:
    def broken() -> bytes:
        raise StorageError("snap: cannot encode")

    catch_up = CatchUpSnapshot(lambda: None, lambda: (SnapshotMeta(index=5, term=1), broken), lambda: 0)
    assert catch_up.source() is None
    await until_async(lambda: not catch_up.getting, "the job to end")
    with pytest.raises(StorageError, match="cannot encode"):
        catch_up.source()
    assert catch_up.source() is None and catch_up.jobs == 2  # asked again, it tries again
    await until_async(lambda: not catch_up.getting, "the second job to end")


def test_a_job_that_fails_raises_at_the_next_ask() -> None:
    asyncio.run(a_failing_job())


async def _got(catch_up: CatchUpSnapshot) -> Snapshot:
    assert catch_up.source() is None
    await until_async(lambda: not catch_up.getting, "the job to end")
    snapshot = catch_up.source()
    assert snapshot is not None
    return snapshot


async def file_or_fresh(snap_dir: Path) -> tuple[int, int]:
    """A saved snapshot at 10, the log compacted to it and the state applied to 20: what is sent
    with ``catch_up_entries`` 10 (the file) and 5 (the state encoded afresh)."""
    kv = KvStore()
    for i in range(20):
        kv.apply(PutRequest(b"k%02d" % i, b"v"))
    files = SnapshotFiles(snap_dir)
    files.save(SnapshotMeta(index=10, term=1), capture_payload(kv, AuthState(), MemberTable(1))())

    def capture() -> tuple[SnapshotMeta, Callable[[], bytes]]:
        return SnapshotMeta(index=20, term=1), capture_payload(kv, AuthState(), MemberTable(1))

    near = await _got(CatchUpSnapshot(files.load_latest, capture, lambda: 10, catch_up_entries=10))
    far = await _got(CatchUpSnapshot(files.load_latest, capture, lambda: 10, catch_up_entries=5))
    assert KvStore.restore(Payload.read(far.data).kv_data).revision == kv.revision
    return near.meta.index, far.meta.index


def test_a_saved_snapshot_far_behind_the_applied_state_is_not_sent_the_state_is(tmp_path: Path) -> None:
    assert asyncio.run(file_or_fresh(tmp_path)) == (10, 20)
