"""The Raft log's slices: one tuple per range while the log stays as it is, a fresh one once it changes."""

from __future__ import annotations

from confagent.raft import ConfState, Entry, Snapshot, SnapshotMeta
from confagent.raft._log import SLICES_KEPT, RaftLog


def _log(count: int, term: int = 1) -> RaftLog:
    return RaftLog(None, [Entry(term, i, data=b"%d" % i) for i in range(1, count + 1)], committed=0)


def test_a_range_gives_one_tuple_until_the_log_changes() -> None:
    log = _log(5)
    first = log.slice(2, 5)
    assert log.slice(2, 5) is first and [e.index for e in first] == [2, 3, 4]
    assert log.slice(2, 5, max_bytes=1) == first[:1]  # the byte bound is part of the range
    log.append([Entry(2, 3, data=b"new")])  # replaces 3..5
    again = log.slice(2, 4)
    assert [(e.index, e.term) for e in again] == [(2, 1), (3, 2)]
    assert log.slice(2, 3) is not first


def test_compaction_and_restore_forget_the_slices() -> None:
    log = _log(6)
    log.commit_to(6)
    log.applied_to(6)
    before = log.slice(4, 7)
    log.compact(SnapshotMeta(3, 1, ConfState((1,))))
    assert log.slice(4, 7) == before and log.slice(4, 7) is not before
    log.restore(Snapshot(SnapshotMeta(10, 3, ConfState((1,)))))
    log.append([Entry(3, 11, data=b"after")])
    assert [e.data for e in log.slice(11, 12)] == [b"after"]


def test_the_slices_kept_are_bounded() -> None:
    log = _log(SLICES_KEPT * 2 + 2)
    kept = [log.slice(i, i + 1) for i in range(1, SLICES_KEPT * 2 + 1)]
    assert all(len(s) == 1 for s in kept)
    assert len(log._slices) <= SLICES_KEPT
