"""A member writes its snapshots beside its driver: writes go on being answered meanwhile.

A real StoreNode on a real data directory, whose snapshot file writes are held at a
gate (the real write follows once it opens): while the first snapshot's file is held,
more writes are proposed and answered, and no snapshot file exists yet; the file is
written off the event loop's thread. Once the gate opens, the snapshot lands, the log
is compacted to it, and a reopened member holds every write. A snapshot that cannot
be written fails the member.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from confagent.errors import Stopped, StorageError
from confagent.kv import PutRequest, RangeRequest
from confagent.raft import SnapshotMeta
from confagent.server.node import NodeConfig, StoreNode
from confagent.server.storage import SnapshotFiles
from confagent.testing import DEADLINE_S, until_async

SNAPSHOT_ENTRIES = 10
WRITES_WHILE_HELD = 3 * SNAPSHOT_ENTRIES


class Gate:
    """Holds ``SnapshotFiles.save`` until opened; records the threads it was called on."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.threads: list[int] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        save = SnapshotFiles.save

        def held_save(files: SnapshotFiles, meta: SnapshotMeta, data: bytes) -> int:
            self.threads.append(threading.get_ident())
            self.entered.set()
            assert self.opened.wait(DEADLINE_S), "the test never opened the gate"
            return save(files, meta, data)

        monkeypatch.setattr(SnapshotFiles, "save", held_save)


def snap_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "member" / "snap").glob("*.snap"))


async def writes_during_a_snapshot(data_dir: Path, gate: Gate) -> None:
    config = NodeConfig(data_dir=data_dir, member_id=1, cluster_id=1, snapshot_entries=SNAPSHOT_ENTRIES)
    node = await StoreNode.open(config)
    await node.start()
    try:
        for i in range(SNAPSHOT_ENTRIES):
            await node.propose(PutRequest(b"key/%03d" % i, b"v"))
        await until_async(gate.entered.is_set, "a snapshot being written")
        async with asyncio.timeout(DEADLINE_S):  # a driver waiting for the file would never answer
            for i in range(SNAPSHOT_ENTRIES, SNAPSHOT_ENTRIES + WRITES_WHILE_HELD):
                await node.propose(PutRequest(b"key/%03d" % i, b"v"))
        assert snap_files(data_dir) == [], "the writes were answered while the snapshot was held"
        assert threading.get_ident() not in gate.threads, "the file is written off the event loop"
        gate.opened.set()
        await until_async(lambda: node.core.log.offset >= SNAPSHOT_ENTRIES, "the log compacted to it")
        assert int(snap_files(data_dir)[0].name[:16], 16) >= SNAPSHOT_ENTRIES
    finally:
        gate.opened.set()
        await node.stop()
    node = await StoreNode.open(config)
    try:
        kvs = node.kv.range(RangeRequest(key=b"key/", range_end=b"key0")).kvs
        assert len(kvs) == SNAPSHOT_ENTRIES + WRITES_WHILE_HELD
    finally:
        await node.stop()


def test_writes_are_answered_while_a_snapshot_is_written(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate()
    gate.install(monkeypatch)
    asyncio.run(writes_during_a_snapshot(tmp_path, gate))


async def a_failing_snapshot(data_dir: Path) -> StoreNode:
    node = await StoreNode.open(NodeConfig(data_dir=data_dir, member_id=1, cluster_id=1,
                                           snapshot_entries=SNAPSHOT_ENTRIES))
    await node.start()
    try:
        for i in range(SNAPSHOT_ENTRIES):
            await node.propose(PutRequest(b"key/%03d" % i, b"v"))
        await until_async(node.failed.is_set, "the member to fail")
        with pytest.raises(Stopped):
            await node.propose(PutRequest(b"after", b"v"))
    finally:
        await node.stop()
    return node


def test_a_snapshot_that_cannot_be_written_fails_the_member(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """As a failed save of the log does: the member answers nothing more (and its server stops)."""
    def refused(files: SnapshotFiles, meta: SnapshotMeta, data: bytes) -> int:
        raise StorageError("snap: cannot write (disk full)")

    monkeypatch.setattr(SnapshotFiles, "save", refused)
    node = asyncio.run(a_failing_snapshot(tmp_path))
    assert isinstance(node.failure, StorageError)
