"""The write-ahead log: round trips, suffix overwrites, markers, segments, release, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.errors import StorageError
from confagent.raft._types import ConfState, Entry, EntryType, HardState, SnapshotMeta
from confagent.server.storage import Wal, WalState
from confagent.server.storage._wal_records import MAX_ENTRY_DATA_BYTES


def entries(first: int, last: int, term: int = 1, tag: bytes = b"v") -> list[Entry]:
    return [Entry(term, index, data=tag + b"%d" % index) for index in range(first, last + 1)]


def reopen(data_dir: Path, **options: int) -> WalState:
    wal, state = Wal.open(data_dir, **options)
    wal.close()
    return state


def segment_names(data_dir: Path) -> list[str]:
    return sorted(path.name for path in (data_dir / "member" / "wal").iterdir())


def test_a_new_member_gets_the_etcd_layout_and_an_empty_log(tmp_path: Path) -> None:
    wal, state = Wal.open(tmp_path / "data")
    wal.close()

    assert state == WalState(HardState(), None, ())
    assert (tmp_path / "data" / "member" / "snap").is_dir()
    assert segment_names(tmp_path / "data") == ["0000000000000000-0000000000000001.wal"]


def test_synced_entries_and_hard_state_round_trip(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    batch = [*entries(1, 3), Entry(2, 4, EntryType.CONF_CHANGE, b"\x00conf"), Entry(2, 5)]
    wal.append(HardState(term=2, vote=7, commit=3), batch)
    wal.sync()
    wal.close()

    assert reopen(tmp_path) == WalState(HardState(2, 7, 3), None, tuple(batch))


def test_the_newest_hard_state_wins(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    for term in range(1, 6):
        wal.append(HardState(term, term * 10, 0), ())
        wal.sync()
    wal.append(None, entries(1, 1, term=5))
    wal.close()

    state = reopen(tmp_path)
    assert state.hard_state == HardState(5, 50, 0)
    assert state.last_index == 1


def test_close_syncs_what_was_appended(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(HardState(1, 1, 0), entries(1, 4))
    wal.close()

    assert reopen(tmp_path).entries == tuple(entries(1, 4))


def test_an_append_below_the_last_index_replaces_the_suffix(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(None, entries(1, 10, term=1))
    wal.sync()
    wal.append(None, entries(6, 7, term=2, tag=b"new"))
    wal.sync()
    wal.append(None, entries(8, 8, term=2, tag=b"newer"))
    wal.close()

    expected = (*entries(1, 5), *entries(6, 7, term=2, tag=b"new"), *entries(8, 8, 2, b"newer"))
    assert reopen(tmp_path).entries == expected


def test_a_marker_drops_the_entries_it_covers_and_keeps_the_rest(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(None, entries(1, 10, term=3))
    meta = SnapshotMeta(6, 3, ConfState(voters=(1, 2, 3), learners=(9,)))
    wal.mark_snapshot(meta)
    wal.append(None, entries(11, 12, term=3))
    wal.close()

    state = reopen(tmp_path)
    assert state.snapshot == meta
    assert state.entries == (*entries(7, 10, term=3), *entries(11, 12, term=3))


@pytest.mark.parametrize("marker", [SnapshotMeta(6, 9), SnapshotMeta(40, 9)])
def test_a_marker_the_log_does_not_match_drops_the_whole_log(
    tmp_path: Path, marker: SnapshotMeta,
) -> None:
    """A follower restored from its leader's snapshot continues right after it."""
    wal, _ = Wal.open(tmp_path)
    wal.append(None, entries(1, 10, term=3))
    wal.mark_snapshot(marker)
    wal.append(None, entries(marker.index + 1, marker.index + 2, term=9))
    wal.close()

    state = reopen(tmp_path)
    assert state.snapshot == marker
    assert state.entries == tuple(entries(marker.index + 1, marker.index + 2, term=9))


def test_a_log_replaced_by_a_marker_stays_replaced_once_older_segments_are_released(tmp_path: Path) -> None:
    """Entries 7-10 of the replaced log, in the segment that also holds the marker (6, 9), are not
    taken for the new log's once the segment with entries 1-6 is gone: the marker starts a segment."""
    wal, _ = Wal.open(tmp_path, segment_bytes=200)
    wal.append(None, entries(1, 6, term=3))
    wal.sync()
    wal.append(None, entries(7, 10, term=3))
    wal.mark_snapshot(SnapshotMeta(6, 9))
    wal.append(None, entries(7, 7, term=9))
    wal.sync()
    wal.release_to(6)
    wal.close()

    state = reopen(tmp_path)
    assert (state.snapshot, state.entries) == (SnapshotMeta(6, 9), tuple(entries(7, 7, term=9)))
    [segment] = (tmp_path / "member" / "wal").glob("*.wal")
    assert segment.name.endswith(f"-{7:016x}.wal")


def test_segments_are_cut_at_the_size_bound_and_named_by_first_index(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, segment_bytes=1000)
    for first in range(1, 200, 10):
        wal.append(HardState(1, 1, first), entries(first, first + 9))
        wal.sync()
    wal.close()

    names = segment_names(tmp_path)
    assert len(names) > 5
    sizes = [(tmp_path / "member" / "wal" / name).stat().st_size for name in names]
    assert all(size < 1000 + 400 for size in sizes[:-1]), "a segment cut gives its space allocated ahead back"
    first_indexes = [int(name[17:33], 16) for name in names]
    assert first_indexes == sorted(first_indexes)
    assert all((index - 1) % 10 == 0 for index in first_indexes)
    state = reopen(tmp_path, segment_bytes=1000)
    assert state.entries == tuple(entries(1, 200))
    assert state.hard_state == HardState(1, 1, 191)


def test_release_deletes_only_segments_a_synced_marker_covers(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, segment_bytes=500)
    for first in range(1, 101, 10):
        wal.append(None, entries(first, first + 9))
        wal.sync()
    before = segment_names(tmp_path)

    wal.release_to(100)  # no snapshot marker yet: nothing is covered
    assert segment_names(tmp_path) == before

    wal.mark_snapshot(SnapshotMeta(55, 1))
    wal.release_to(100)  # the marker is not synced yet
    assert segment_names(tmp_path) == before

    wal.sync()
    wal.release_to(100)
    kept = segment_names(tmp_path)
    assert 0 < len(kept) < len(before)
    assert all(int(name[17:33], 16) <= 56 for name in kept[:1])
    wal.append(None, entries(101, 105))
    wal.close()

    state = reopen(tmp_path, segment_bytes=500)
    assert state.snapshot == SnapshotMeta(55, 1)
    assert state.entries == tuple(entries(56, 105))


def test_release_never_deletes_the_last_segment(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, segment_bytes=300)
    wal.append(None, entries(1, 20))
    wal.mark_snapshot(SnapshotMeta(20, 1))
    wal.sync()
    wal.release_to(1000)
    wal.close()

    assert len(segment_names(tmp_path)) == 1
    assert reopen(tmp_path) == WalState(HardState(), SnapshotMeta(20, 1), ())


def test_a_released_log_whose_marker_is_lost_is_an_error(tmp_path: Path) -> None:
    """Deleting old segments by hand (no marker covers the hole) is not mistaken for a log."""
    wal, _ = Wal.open(tmp_path, segment_bytes=300)
    for first in range(1, 61, 10):
        wal.append(None, entries(first, first + 9))
        wal.sync()
    wal.close()
    names = segment_names(tmp_path)
    (tmp_path / "member" / "wal" / names[0]).unlink()

    with pytest.raises(StorageError, match="missing and no snapshot marker covers them"):
        Wal.open(tmp_path)


def test_segments_left_behind_a_numbering_gap_are_deleted_on_open(tmp_path: Path) -> None:
    """A release interrupted by a crash can leave old segments behind a gap: finish it."""
    wal, _ = Wal.open(tmp_path, segment_bytes=300)
    for first in range(1, 61, 10):
        wal.append(None, entries(first, first + 9))
        wal.sync()
    wal.mark_snapshot(SnapshotMeta(60, 1))
    wal.append(None, entries(61, 62))
    wal.close()
    names = segment_names(tmp_path)
    (tmp_path / "member" / "wal" / names[1]).unlink()

    state = reopen(tmp_path)
    assert state.snapshot == SnapshotMeta(60, 1)
    assert state.entries == tuple(entries(61, 62))
    assert segment_names(tmp_path) == names[2:]


def test_a_crashed_segment_cut_leaves_nothing_behind(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(None, entries(1, 3))
    wal.close()
    leftover = tmp_path / "member" / "wal" / ".0000000000000001-0000000000000004.wal.x1y2.stage"
    leftover.write_bytes(b"half a header")

    assert reopen(tmp_path).entries == tuple(entries(1, 3))
    assert not leftover.exists()


def test_a_second_open_of_the_same_directory_is_refused(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    with pytest.raises(StorageError, match="in use by another process"):
        Wal.open(tmp_path)
    wal.close()
    reopen(tmp_path)


def test_an_entry_too_large_for_a_record_is_refused_before_any_write(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(None, entries(1, 1))
    with pytest.raises(StorageError, match="more than"):
        wal.append(None, [*entries(2, 3), Entry(1, 4, data=bytes(MAX_ENTRY_DATA_BYTES + 1))])
    wal.append(None, entries(2, 2, tag=b"again"))
    wal.close()
    assert reopen(tmp_path).entries == (*entries(1, 1), *entries(2, 2, tag=b"again"))


def test_a_failed_write_poisons_the_wal(tmp_path: Path, file_size_limit: int) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(None, entries(1, 2))
    wal.sync()
    wal.append(None, [Entry(1, 3, data=bytes(file_size_limit))])
    with pytest.raises(StorageError, match=r"write to .* failed"):
        wal.sync()

    for retry in (wal.sync, wal.flush, lambda: wal.append(None, entries(3, 3))):
        with pytest.raises(StorageError, match="unusable after an earlier failure"):
            retry()
    wal.close()
    assert reopen(tmp_path).entries == tuple(entries(1, 2))


# -- starting from an older snapshot ---------------------------------------------------------------


def log_with_markers(data_dir: Path) -> None:
    """Entries 1..30 of term 1 with markers at 10 and 20 (only the last segment holds them all)."""
    wal, _ = Wal.open(data_dir)
    wal.append(HardState(1, 1, 5), entries(1, 30))
    wal.mark_snapshot(SnapshotMeta(10, 1))
    wal.mark_snapshot(SnapshotMeta(20, 1))
    wal.close()


def test_the_entries_markers_cover_are_kept_and_replay_from_an_older_snapshot(tmp_path: Path) -> None:
    log_with_markers(tmp_path)
    state = reopen(tmp_path)
    assert (state.snapshot, state.entries, state.covered) == (
        SnapshotMeta(20, 1), tuple(entries(21, 30)), tuple(entries(1, 20)))

    started = state.starting_at(SnapshotMeta(10, 1), "dir")
    assert (started.snapshot, started.entries) == (SnapshotMeta(10, 1), tuple(entries(11, 30)))
    assert started.hard_state == HardState(1, 1, 20), "what the newest marker holds was committed"
    assert state.starting_at(None, "dir").entries == tuple(entries(1, 30))
    assert state.starting_at(SnapshotMeta(25, 1), "dir").entries == tuple(entries(26, 30))


def test_a_start_from_before_the_kept_log_names_the_directory(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, segment_bytes=300)
    for first in range(1, 61, 10):
        wal.append(None, entries(first, first + 9))
        wal.sync()
    wal.mark_snapshot(SnapshotMeta(50, 1))
    wal.sync()
    wal.release_to(40)
    wal.close()
    state = reopen(tmp_path, segment_bytes=300)
    first_kept = state.covered[0].index
    assert 1 < first_kept <= 41

    assert state.starting_at(SnapshotMeta(first_kept - 1, 1), "dir").entries == tuple(entries(first_kept, 60))
    with pytest.raises(StorageError, match=rf"dir: the log starts after index {first_kept - 1} but the "
                                           rf"newest readable snapshot covers only up to {first_kept - 2};"):
        state.starting_at(SnapshotMeta(first_kept - 2, 1), "dir")


def test_a_snapshot_the_log_contradicts_is_refused(tmp_path: Path) -> None:
    log_with_markers(tmp_path)

    with pytest.raises(StorageError, match="dir: the log holds entry 10 of term 1, the snapshot at that "
                                           "index says term 2"):
        reopen(tmp_path).starting_at(SnapshotMeta(10, 2), "dir")


def test_a_marker_the_log_does_not_hold_leaves_nothing_to_start_before_it(tmp_path: Path) -> None:
    """A leader's snapshot replaced the log: an older snapshot cannot start what follows."""
    wal, _ = Wal.open(tmp_path)
    wal.append(None, entries(1, 30))
    wal.mark_snapshot(SnapshotMeta(10, 1))
    wal.mark_snapshot(SnapshotMeta(100, 3))
    wal.append(None, entries(101, 102, term=3))
    wal.close()
    state = reopen(tmp_path)
    assert (state.covered, state.entries) == ((), tuple(entries(101, 102, term=3)))

    with pytest.raises(StorageError, match="covers only up to 10"):
        state.starting_at(SnapshotMeta(10, 1), "dir")
