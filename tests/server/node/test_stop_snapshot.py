"""A member stopping after ``STOP_SNAPSHOT_ENTRIES`` entries takes a snapshot of them (snapshotter rule 5):
the next start, and the data directory's reader, replay none; after fewer, no file is written and the log
replays them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from confagent.kv import PutRequest, RangeRequest
from confagent.server import read_data_dir
from confagent.server.node import NodeConfig, StoreNode
from confagent.server.node._snapshotter import STOP_SNAPSHOT_ENTRIES
from confagent.server.storage import Identity, load_or_keep_identity


def _config(data_dir: Path) -> NodeConfig:
    return NodeConfig(data_dir=data_dir, member_id=1, cluster_id=1, snapshot_entries=20_000)


async def _put_then_stop(data_dir: Path, puts: int) -> int:
    """The applied index of a member that took ``puts`` writes and stopped."""
    load_or_keep_identity(data_dir, Identity(member_id=1, cluster_id=1))  # as its server writes it
    node = await StoreNode.open(_config(data_dir))
    await node.start()
    try:
        for i in range(puts):
            await node.propose(PutRequest(b"key/%04d" % i, b"v%d" % i))
        return node.log_indexes().applied
    finally:
        await node.stop()


async def _reopened(data_dir: Path) -> tuple[int, int]:
    """What a member opened on ``data_dir`` replayed, and how many keys it holds."""
    node = await StoreNode.open(_config(data_dir))
    try:
        return node.recovery.replayed_entries, len(node.kv.range(RangeRequest(b"\0", b"\0")).kvs)
    finally:
        await node.stop()


@pytest.mark.parametrize("puts", [STOP_SNAPSHOT_ENTRIES, STOP_SNAPSHOT_ENTRIES // 2])
def test_a_stop_after_many_entries_leaves_a_snapshot_of_them_and_after_few_none(tmp_path: Path,
                                                                                puts: int) -> None:
    applied = asyncio.run(_put_then_stop(tmp_path, puts))
    snapshots = sorted((tmp_path / "member" / "snap").glob("*.snap"))
    view = read_data_dir(tmp_path)
    assert len(view.kv.range(RangeRequest(b"\0", b"\0")).kvs) == puts
    replayed, keys = asyncio.run(_reopened(tmp_path))
    assert keys == puts
    if puts >= STOP_SNAPSHOT_ENTRIES:
        assert [int(path.name[:16], 16) for path in snapshots] == [applied]
        assert view.report.replayed_entries == replayed == 0
    else:
        assert snapshots == []
        assert view.report.replayed_entries == replayed >= puts
