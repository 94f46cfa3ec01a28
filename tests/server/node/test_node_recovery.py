"""A member's log is kept back to its oldest snapshot file, and no further: any kept snapshot can start it.

A real StoreNode on a real data directory, with small WAL segments so that
releases happen: after many snapshots, every snapshot file but the oldest is
damaged, and the member reopens from the oldest with every write there.
(tests/fault/test_store_recovery.py does the same to a store killed with SIGKILL.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from confagent.kv import PutRequest, RangeRequest
from confagent.server.node import NodeConfig, StoreNode
from confagent.server.storage import KEEP_SNAPSHOTS

PUTS = 400
SNAPSHOT_ENTRIES = 20
SEGMENT_BYTES = 2048


def config(data_dir: Path) -> NodeConfig:
    return NodeConfig(data_dir=data_dir, member_id=1, cluster_id=1, snapshot_entries=SNAPSHOT_ENTRIES,
                      wal_segment_bytes=SEGMENT_BYTES)


async def put_all(data_dir: Path) -> None:
    node = await StoreNode.open(config(data_dir))
    await node.start()
    try:
        for i in range(PUTS):
            await node.propose(PutRequest(b"key/%04d" % i, b"value %d" % i))
    finally:
        await node.stop()


async def reopen(data_dir: Path) -> tuple[StoreNode, list[tuple[bytes, bytes]]]:
    node = await StoreNode.open(config(data_dir))
    try:
        kvs = node.kv.range(RangeRequest(key=b"\0", range_end=b"\0")).kvs
    finally:
        await node.stop()
    return node, [(kv.key, kv.value) for kv in kvs]


def first_indexes(data_dir: Path) -> list[int]:
    """The first index each WAL segment's name carries, oldest segment first."""
    return [int(path.name[17:33], 16) for path in sorted((data_dir / "member" / "wal").glob("*.wal"))]


def test_the_log_reaches_back_to_the_oldest_snapshot_and_a_start_from_it_loses_nothing(
        tmp_path: Path) -> None:
    asyncio.run(put_all(tmp_path))
    snapshots = sorted((tmp_path / "member" / "snap").glob("*.snap"))
    assert len(snapshots) == KEEP_SNAPSHOTS
    oldest = int(snapshots[0].name[:16], 16)
    segments = first_indexes(tmp_path)
    assert segments[0] > 1, "released: segments before the oldest snapshot are gone"
    assert segments[0] <= oldest + 1 < segments[1], "kept: exactly the segments from the oldest snapshot on"

    for path in snapshots[1:]:
        content = bytearray(path.read_bytes())
        content[-1] ^= 0xFF
        path.write_bytes(bytes(content))
    node, kvs = asyncio.run(reopen(tmp_path))

    assert kvs == [(b"key/%04d" % i, b"value %d" % i) for i in range(PUTS)]
    report = node.recovery
    assert report.snapshot is not None and report.snapshot.index == oldest
    assert [broken.path for broken in report.broken_snapshots] == snapshots[:0:-1]
    assert report.replayed_entries > (KEEP_SNAPSHOTS - 1) * SNAPSHOT_ENTRIES
