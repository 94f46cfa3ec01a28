"""The write-ahead log on disk: numbered segment files of framed records (see ``_wal_records``).

Layout, like etcd's::

    DATA_DIR/member/wal/<seq:016x>-<first_index:016x>.wal
    DATA_DIR/member/snap/<index:016x>-<term:016x>.snap

Rules:

1. Nothing is durable before ``sync()`` returns: ``append`` only buffers, ``flush`` writes
   without fsync. A caller acknowledges a write only after ``sync``.
2. Every segment starts with the snapshot marker and the hard state current when it was
   cut, so the oldest kept segment can start a replay once older ones are released.
3. A segment is cut after a sync once it holds ``segment_bytes``. The new one is written
   under a temp name, fsynced, renamed and the directory fsynced: it is whole or absent.
   Its name carries the index the log would continue at, which bounds the entries
   (still in force) of every older segment.
4. Only the last segment can have a torn tail: a damaged record there with no readable
   record after it is truncated away on open, and ``WalState.torn_tail`` says what was
   cut (the caller logs it). Any other damage is a StorageError naming the file and
   offset; nothing readable is dropped silently.
5. ``release_to`` deletes whole segments, oldest first, and only those a *durable* snapshot
   marker covers. The node releases only up to its oldest kept snapshot file, so the
   entries after it stay (``WalState.covered``): the log is a replay from any kept snapshot.
6. A marker the log does not hold (a leader's snapshot replacing the log; the Wal keeps
   the term of each entry after the last marker to tell) drops the whole log: once it is
   synced, a new segment starts with it and every older segment is deleted. Replay could
   not tell otherwise, once older segments are released, whether the entries written
   after the marker's index belong to the log the marker continues.
7. A failed write or fsync poisons the Wal: every later call raises StorageError. (After a
   failed fsync the kernel may have dropped the dirty pages; a retry could call lost data
   durable.)
8. One process at a time: the wal directory is locked (``flock``) while open.
9. The last segment's file is extended with allocated space ahead of its records
   (``PREALLOCATE_BYTES`` at a time, as etcd preallocates its segments), so an fsync
   after an append flushes no change of the file's size. The records end where the
   zeros begin (``_wal_records``); a torn tail is cut and the space allocated again; a
   segment that is cut gives its unused space back (a lost truncation leaves zeros alike).

:class:`WalWriter` (``_fsync_thread``) is the asyncio side; the node driver finds the whole
storage interface in ``confagent.server.storage``.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from confagent.errors import DataDirInUse, StorageError
from confagent.fsutil import fsync_directory, remove_stage_leftovers, write_file_atomically, write_fully
from confagent.raft._types import Entry, HardState, SnapshotMeta
from confagent.server.storage._snapfile import storage_errors
from confagent.server.storage._wal_records import (
    LogReplay,
    TornTail,
    WalState,
    append_entry_frames,
    decode_segment,
    hard_state_frame,
    snapshot_frame,
)

__all__ = ["SEGMENT_BYTES", "MemberDirs", "TornTail", "Wal", "WalState", "read_log"]

SEGMENT_BYTES = 64 * 1024 * 1024
"""A segment is cut once it holds this many bytes (checked after each sync)."""

PREALLOCATE_BYTES = 1024 * 1024
"""The step in which the last segment's file is allocated ahead of its records (rule 9).
Measured on this ext4 disk: a 182-byte append then ``fdatasync`` 0.18-0.19 ms p50 at the end
of the file, 0.11-0.13 ms inside space allocated ahead, in steps of 64 KiB to 64 MiB alike."""

_SEGMENT_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")


@dataclass(frozen=True, slots=True)
class MemberDirs:
    """A member's directories under ``--data-dir``."""

    member: Path
    wal: Path
    snap: Path

    @classmethod
    def of(cls, data_dir: Path) -> MemberDirs:
        member = data_dir / "member"
        return cls(member, member / "wal", member / "snap")

    def create(self) -> None:
        """Create the missing directories, each made durable in its parent. Raises OSError."""
        for path in (self.member.parent, self.member, self.wal, self.snap):
            if not path.is_dir():
                path.mkdir(parents=True)
                fsync_directory(path.parent)


@dataclass(frozen=True, slots=True)
class _Segment:
    seq: int
    first_index: int
    path: Path

    @classmethod
    def new(cls, wal_dir: Path, seq: int, first_index: int) -> _Segment:
        return cls(seq, first_index, wal_dir / f"{seq:016x}-{first_index:016x}.wal")


class Wal:
    """An open write-ahead log (rules in the module doc). Synchronous; one owner thread at a time."""

    def __init__(self, dir_fd: int, wal_dir: Path, segments: list[_Segment], tail_bytes: int,
                 state: WalState, segment_bytes: int) -> None:
        """Use :meth:`open`; this takes over the locked ``dir_fd`` and the replayed ``state``."""
        self._dir_fd = dir_fd
        self._wal_dir = wal_dir
        self._segments = segments
        self._fd, self._allocated = _open_tail(segments[-1].path, tail_bytes)
        self._size = tail_bytes
        self._segment_bytes = segment_bytes
        self._pending: list[bytes] = []
        self._unsynced = False
        self._hard_state = state.hard_state
        self._snapshot = state.snapshot or SnapshotMeta()
        self._durable_snapshot_index = self._snapshot.index
        self._last_index = state.last_index
        self._terms = [entry.term for entry in state.entries]
        """The term of each entry after the last marker, from index ``_snapshot.index + 1`` (rule 6)."""
        self._replacement: tuple[int, SnapshotMeta, HardState] | None = None
        """A marker that replaced the log: how many pending frames end with it, it, and the hard
        state then; the next write starts a segment with it (rule 6)."""
        self._failure: StorageError | None = None
        self._closed = False
        self._syncs = 0

    @classmethod
    def open(cls, data_dir: Path, segment_bytes: int = SEGMENT_BYTES) -> tuple[Wal, WalState]:
        """Open (creating for a new member) the log under ``data_dir`` and replay it.

        A torn tail of the last segment is truncated away (``state.torn_tail`` says what was
        cut); segments an interrupted release left behind a gap in the numbering are deleted
        once the rest replays cleanly.

        Raises:
            StorageError: the log is damaged other than at its tail, another process has
                it open, or the directory is unusable.
        """
        assert segment_bytes > 0, "segment_bytes must be positive"
        dirs = MemberDirs.of(data_dir)
        with storage_errors(f"wal: cannot open {dirs.wal}"):
            dirs.create()
            dir_fd = _lock_directory(dirs.wal)
            try:
                segments, leftovers = _find_segments(dirs.wal)
                if not segments:
                    segments = [_create_segment(dirs.wal, 0, 1, HardState(), SnapshotMeta())]
                state, tail_bytes = _replay(segments, dirs.wal)
                _truncate_tail(state.torn_tail)
                _delete_segments(leftovers, dirs.wal)
                wal = cls(dir_fd, dirs.wal, segments, tail_bytes, state, segment_bytes)
            except BaseException:
                os.close(dir_fd)
                raise
        return wal, state

    @property
    def last_index(self) -> int:
        """The index after which new entries go (at least the snapshot's index)."""
        return self._last_index

    @property
    def syncs(self) -> int:
        """How many fsyncs of segment data this Wal made (for benchmarks and tests)."""
        return self._syncs

    def append(self, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Buffer ``entries`` then ``hard_state`` (None or unchanged: not written). No I/O.

        ``entries`` are contiguous; the first may be at or below ``last_index`` (it then
        replaces the log from there on) but not at or below the snapshot's index.

        Raises:
            StorageError: the Wal failed earlier, or an entry is too large to be a record
                (then nothing of this call is buffered).
        """
        self._check_usable()
        if entries:
            first, last = entries[0].index, entries[-1].index
            assert last - first == len(entries) - 1, "entries must be contiguous"
            assert self._snapshot.index < first <= self._last_index + 1, (
                f"entry {first} cannot follow a log ending at {self._last_index} "
                f"with a snapshot at {self._snapshot.index}")
            frames: list[bytes] = []
            append_entry_frames(frames, entries)  # may raise: nothing is buffered then
            self._pending += frames
            self._last_index = last
            del self._terms[first - self._snapshot.index - 1:]
            self._terms += [entry.term for entry in entries]
        if hard_state is not None and hard_state != self._hard_state:
            self._pending.append(hard_state_frame(hard_state))
            self._hard_state = hard_state

    def mark_snapshot(self, meta: SnapshotMeta) -> None:
        """Buffer a marker saying the log now starts after ``meta.index``. No I/O.

        Write the snapshot file first (``SnapshotFiles.save``). Entries the snapshot
        covers are dropped at replay; if the log does not hold (index, term) it is dropped
        entirely and must continue at ``meta.index + 1``.
        """
        self._check_usable()
        assert meta.index >= self._snapshot.index, "snapshot markers never go back"
        self._pending.append(snapshot_frame(meta))
        position = meta.index - self._snapshot.index - 1
        if position >= 0 and not (position < len(self._terms) and self._terms[position] == meta.term):
            self._replacement = (len(self._pending), meta, self._hard_state)  # rule 6
            self._terms.clear()
        del self._terms[:position + 1]
        self._snapshot = meta
        self._last_index = max(self._last_index, meta.index)

    def flush(self) -> None:
        """Write what was appended, with one ``write``, no fsync (a full segment is synced and cut).

        Raises:
            StorageError: the write failed; the Wal is unusable from now on.
        """
        self._check_usable()
        self._write_pending()
        if self._size >= self._segment_bytes:
            self._fsync()
            self._cut()

    def sync(self) -> None:
        """Write what was appended and fsync it; cut a new segment when this one is full.

        Raises:
            StorageError: the write or fsync failed; the Wal is unusable from now on.
        """
        self._check_usable()
        self._write_pending()
        self._fsync()
        if self._size >= self._segment_bytes:
            self._cut()

    def release_to(self, index: int) -> None:
        """Delete the oldest segments whose entries a durable snapshot at ``<= index`` covers.

        The last segment is never deleted, nor one holding an entry after the newest synced
        snapshot marker, whatever ``index`` says.

        Raises:
            StorageError: a segment could not be deleted (the Wal stays usable).
        """
        self._check_usable()
        covered = min(index, self._durable_snapshot_index)
        segments = self._segments
        count = 0
        # Segment k holds no entry in force after segments[k + 1].first_index - 1 (rule 3).
        while count + 1 < len(segments) and segments[count + 1].first_index - 1 <= covered:
            count += 1
        with storage_errors("wal: cannot release segments"):
            _delete_segments(segments[:count], self._wal_dir)
        del segments[:count]

    def close(self) -> None:
        """Sync what was appended (unless the Wal failed), then close the files. Idempotent.

        Raises:
            StorageError: the final sync failed.
        """
        if self._closed:
            return
        try:
            if self._failure is None:
                self.sync()
        finally:
            self._closed = True
            os.close(self._fd)
            os.close(self._dir_fd)

    # -- internals ----------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise StorageError(f"wal: unusable after an earlier failure: {self._failure}")
        if self._closed:
            raise StorageError("wal: closed")

    def _fail(self, what: str, error: OSError) -> StorageError:
        self._failure = StorageError(f"wal: {what} {self._segments[-1].path} failed: {error}")
        return self._failure

    def _write_pending(self) -> None:
        if self._replacement is not None:
            end, marker, hard_state = self._replacement
            self._replacement = None
            self._write(self._pending[:end])
            del self._pending[:end]
            self._fsync()
            self._start_over(marker, hard_state)
        self._write(self._pending)
        self._pending.clear()

    def _write(self, frames: list[bytes]) -> None:
        if not frames:
            return
        data = b"".join(frames)
        try:
            if self._size + len(data) > self._allocated:
                self._allocated = _preallocate(self._fd, self._size + len(data))
            write_fully(self._fd, data)
        except OSError as error:
            raise self._fail("write to", error) from error
        self._size += len(data)
        self._unsynced = True

    def _fsync(self) -> None:
        if self._unsynced:
            try:
                os.fdatasync(self._fd)
            except OSError as error:
                raise self._fail("fsync of", error) from error
            self._unsynced = False
            self._syncs += 1
        self._durable_snapshot_index = self._snapshot.index

    def _start_over(self, marker: SnapshotMeta, hard_state: HardState) -> None:
        """The log was replaced at ``marker`` (written and synced): a segment starts with it and
        the older ones, which hold only the replaced log, are deleted (rule 6)."""
        self._cut(marker.index + 1, marker, hard_state)
        with storage_errors("wal: cannot delete the segments of a replaced log"):
            _delete_segments(self._segments[:-1], self._wal_dir)
        del self._segments[:-1]

    def _cut(self, first_index: int | None = None, snapshot: SnapshotMeta | None = None,
             hard_state: HardState | None = None) -> None:
        """Start the next segment; everything before is synced. It starts with the current
        marker and hard state, and continues at the index after the last, unless told."""
        seq = self._segments[-1].seq + 1
        try:
            segment = _create_segment(self._wal_dir, seq, first_index or self._last_index + 1,
                                      hard_state or self._hard_state, snapshot or self._snapshot)
            header_bytes = segment.path.stat().st_size
            fd, allocated = _open_tail(segment.path, header_bytes)
            os.ftruncate(self._fd, self._size)  # its space allocated ahead, given back (rule 9)
        except OSError as error:
            raise self._fail("cutting the segment after", error) from error
        os.close(self._fd)
        self._fd, self._allocated = fd, allocated
        self._size = header_bytes
        self._segments.append(segment)


def _open_tail(path: Path, records_end: int) -> tuple[int, int]:
    """Open the last segment to write after its records, with space allocated ahead (rule 9):
    the descriptor and the file's allocated size. Raises OSError."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.lseek(fd, records_end, os.SEEK_SET)
        allocated = _preallocate(fd, records_end + 1)
        os.fsync(fd)  # the new size now, so the first appends' fsyncs need not flush it
    except BaseException:
        os.close(fd)
        raise
    return fd, allocated


def _preallocate(fd: int, needed: int) -> int:
    """Allocate the file to the next ``PREALLOCATE_BYTES`` step holding ``needed`` bytes (zeros
    to read, its size extended); that size. Raises OSError (a full disk)."""
    size = -(-needed // PREALLOCATE_BYTES) * PREALLOCATE_BYTES
    current = os.fstat(fd).st_size
    if current >= size:
        return current
    os.posix_fallocate(fd, 0, size)
    return size


def _lock_directory(wal_dir: Path) -> int:
    fd = os.open(wal_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUse(f"wal: {wal_dir} is in use by another process") from None
    return fd


def read_log(data_dir: Path) -> WalState:
    """The log under ``data_dir`` replayed, as ``Wal.open`` replays it, without opening it: no lock, and
    nothing written (a torn tail is left out of the state, not cut off the file; ``torn_tail`` says
    what was left out). For a reader beside a member that may be writing the log.

    Raises:
        StorageError: there is no log, or it is damaged other than at its tail (a write in progress
            there reads as a torn tail).
        OSError: a segment went away while read (released by the member writing the log).
    """
    wal_dir = MemberDirs.of(data_dir).wal
    if not wal_dir.is_dir():
        raise StorageError(f"wal: {wal_dir} does not exist: {data_dir} holds no store's data")
    segments, _ = _list_segments(wal_dir)
    if not segments:
        raise StorageError(f"wal: {wal_dir} holds no log segment: {data_dir} holds no store's data")
    return _replay(segments, wal_dir)[0]


def _find_segments(wal_dir: Path) -> tuple[list[_Segment], list[_Segment]]:
    """The segments to replay, and older ones an interrupted release left behind a gap.

    Also deletes the temp file of a crashed segment cut.
    """
    remove_stage_leftovers(wal_dir, "*.wal")
    return _list_segments(wal_dir)


def _list_segments(wal_dir: Path) -> tuple[list[_Segment], list[_Segment]]:
    """``_find_segments`` without deleting anything."""
    segments = sorted(
        (_Segment(int(match[1], 16), int(match[2], 16), wal_dir / match[0])
         for match in (_SEGMENT_NAME.match(path.name) for path in wal_dir.iterdir())
         if match is not None),
        key=lambda segment: segment.seq,
    )
    start = 0
    for position in range(1, len(segments)):
        if segments[position].seq == segments[position - 1].seq:
            raise StorageError(f"wal: two segments numbered {segments[position].seq} in {wal_dir}")
        if segments[position].seq != segments[position - 1].seq + 1:
            start = position
    return segments[start:], segments[:start]


def _create_segment(wal_dir: Path, seq: int, first_index: int, hard_state: HardState,
                    snapshot: SnapshotMeta) -> _Segment:
    """Write a new segment holding its header records, atomically. Raises OSError."""
    segment = _Segment.new(wal_dir, seq, first_index)
    write_file_atomically(segment.path, snapshot_frame(snapshot) + hard_state_frame(hard_state))
    return segment


def _replay(segments: Sequence[_Segment], wal_dir: Path) -> tuple[WalState, int]:
    """Replay every segment in order; returns the state and the readable length of the last."""
    replay = LogReplay()
    valid_bytes, torn_tail = 0, None
    for segment in segments:
        content = segment.path.read_bytes()
        scan = decode_segment(content, str(segment.path))
        damage = scan.damage
        if damage is not None and (segment is not segments[-1] or damage.followed_by_valid):
            after = "readable records follow it" if damage.followed_by_valid else "not the last segment"
            raise StorageError(f"{segment.path}: damaged record at offset {damage.offset} "
                               f"({damage.reason}; {after})")
        if damage is not None:
            written_end = len(content.rstrip(b"\0"))  # not the space allocated ahead (rule 9)
            torn_tail = TornTail(str(segment.path), damage.offset, written_end - damage.offset,
                                 damage.reason)
        replay.add(str(segment.path), scan.records)
        valid_bytes = scan.valid_bytes
    return replay.result(str(wal_dir), torn_tail), valid_bytes


def _truncate_tail(torn_tail: TornTail | None) -> None:
    """Cut a torn tail off the last segment, durably. Raises OSError."""
    if torn_tail is None:
        return
    fd = os.open(torn_tail.path, os.O_WRONLY)
    try:
        os.ftruncate(fd, torn_tail.offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def _delete_segments(segments: Sequence[_Segment], wal_dir: Path) -> None:
    """Delete ``segments`` (a prefix, oldest first): a crash midway leaves a gap in the numbering
    that ``_find_segments`` recognises. Raises OSError."""
    for segment in segments:
        segment.path.unlink()
    if segments:
        fsync_directory(wal_dir)
