"""Write-ahead log records: their framing on disk, and the replay that folds them into a log.

Every record is one frame (little-endian)::

    body_length:u32  crc32(body):u32  body
    body := record_type:u8  payload

    ENTRY        term:u64 index:u64 entry_type:u8 data
    HARD_STATE   term:u64 vote:u64 commit:u64
    SNAPSHOT     index:u64 term:u64 n_voters:u32 n_learners:u32 node_id:u64 *

The checksum (``zlib.crc32``) covers the type and the payload; the length sits in front
so a reader knows where the next frame starts without trusting the payload. No frame
has a zero length, so zeros from a frame's start to the end of the file are the space
allocated ahead of the records (``_wal`` rule 9), not a record.

Rules of replay (:class:`LogReplay`), records in write order, later records winning:

1. An entry at or below the last index replaces the log from its index on (a follower
   truncating entries that conflict with its leader's).
2. A snapshot marker moves the entries it covers aside (``WalState.covered``): a
   member whose newest snapshot file is unreadable starts from an older one and
   replays them. When the log does not hold the marker's (index, term), the whole
   log is dropped (a follower restored from a leader's snapshot); later entries
   start after the marker.
3. The newest hard state wins.
4. Segments released behind a snapshot leave a hole before the first entry read;
   a later marker must cover it, or the log is unusable (StorageError).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from confagent.errors import StorageError
from confagent.raft._types import ConfState, Entry, EntryType, HardState, SnapshotMeta

__all__ = [
    "MAX_ENTRY_DATA_BYTES",
    "Damage",
    "LogReplay",
    "Record",
    "RecordType",
    "SegmentScan",
    "TornTail",
    "WalState",
    "append_entry_frames",
    "decode_segment",
    "decode_snapshot_meta",
    "encode_snapshot_meta",
    "hard_state_frame",
    "snapshot_frame",
]

MAX_ENTRY_DATA_BYTES = 64 * 1024 * 1024
"""The largest entry payload written; a frame claiming more is damage, not a record."""


class RecordType(IntEnum):
    ENTRY = 1
    HARD_STATE = 2
    SNAPSHOT = 3


Record = Entry | HardState | SnapshotMeta
"""A decoded record is the Raft value it stores."""

_FRAME = struct.Struct("<II")
_ENTRY = struct.Struct("<BQQB")
_HARD_STATE = struct.Struct("<BQQQ")
_SNAPSHOT = struct.Struct("<BQQII")
_META = struct.Struct("<QQII")
_NODE_ID = struct.Struct("<Q")
_ENTRY_TYPES = tuple(EntryType)
_MAX_BODY_BYTES = _ENTRY.size + MAX_ENTRY_DATA_BYTES
_RECORD_TYPE_BYTE = re.compile(rb"[\x01-\x03]")  # a RecordType: where a frame's body may start
_NON_ZERO = re.compile(rb"[^\0]")
_PLAUSIBLE_BOUND = 1 << 48  # no term or index this large was ever written


@dataclass(frozen=True, slots=True)
class TornTail:
    """The end of the last segment that recovery cut off: a write a crash interrupted."""

    path: str
    offset: int
    """Where the first unreadable record started: where the records end now."""
    cut_bytes: int
    """From ``offset`` to the last byte that is not zero (zeros after it read alike whether
    written or allocated ahead, ``_wal`` rule 9)."""
    reason: str


@dataclass(frozen=True, slots=True)
class WalState:
    """What recovery found: the log after the newest snapshot marker, conflicts resolved."""

    hard_state: HardState
    snapshot: SnapshotMeta | None
    """The newest snapshot marker."""
    entries: tuple[Entry, ...]
    """Contiguous, starting right after ``snapshot.index`` (or at 1 without a snapshot)."""
    covered: tuple[Entry, ...] = ()
    """Entries the markers cover that kept segments still hold: contiguous, ending at
    ``snapshot.index`` (or empty). A start from an older snapshot replays them."""
    torn_tail: TornTail | None = None
    """What opening the log cut off the end of its last segment."""

    @property
    def last_index(self) -> int:
        if self.entries:
            return self.entries[-1].index
        return self.snapshot.index if self.snapshot else 0

    def starting_at(self, snapshot: SnapshotMeta | None, source: str) -> WalState:
        """The log as a member starting from ``snapshot`` (its newest readable file) replays it.

        The entries are those after ``snapshot``, reaching back into ``covered`` when it is
        older than the newest marker. The commit index is at least the marker's: the
        state a snapshot holds was committed.

        Raises:
            StorageError: the log does not reach back to ``snapshot`` (names ``source``),
                or holds its index with another term.
        """
        start = snapshot.index if snapshot else 0
        marked = self.snapshot.index if self.snapshot else 0
        log = self.entries
        if start < marked:
            log = (*self.covered, *self.entries)
            first = log[0].index if self.covered else marked + 1
            if first > start + 1:
                raise StorageError(
                    f"{source}: the log starts after index {first - 1} but the newest readable "
                    f"snapshot covers only up to {start}; restore the data directory from a backup")
            if snapshot is not None and first <= start and log[start - first].term != snapshot.term:
                raise StorageError(
                    f"{source}: the log holds entry {start} of term {log[start - first].term}, "
                    f"the snapshot at that index says term {snapshot.term}")
        hard_state = self.hard_state
        if hard_state.commit < marked:
            hard_state = HardState(hard_state.term, hard_state.vote, marked)
        return WalState(hard_state, snapshot, tuple(entry for entry in log if entry.index > start))


# -- encoding -----------------------------------------------------------------------


def append_entry_frames(out: list[bytes], entries: Sequence[Entry]) -> None:
    """Add the frames of ``entries`` to ``out`` as parts for one ``b"".join``.

    Raises:
        StorageError: an entry's data exceeds MAX_ENTRY_DATA_BYTES (it could not be read back).
    """
    for entry in entries:
        data = entry.data
        if len(data) > MAX_ENTRY_DATA_BYTES:
            raise StorageError(f"wal: entry {entry.index} has {len(data)} bytes of data, "
                               f"more than the {MAX_ENTRY_DATA_BYTES} a record may hold")
        head = _ENTRY.pack(RecordType.ENTRY, entry.term, entry.index, entry.type)
        out.append(_FRAME.pack(_ENTRY.size + len(data), zlib.crc32(data, zlib.crc32(head))))
        out.append(head)
        out.append(data)


def hard_state_frame(hard_state: HardState) -> bytes:
    body = _HARD_STATE.pack(RecordType.HARD_STATE, hard_state.term, hard_state.vote,
                            hard_state.commit)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def snapshot_frame(meta: SnapshotMeta) -> bytes:
    body = bytes([RecordType.SNAPSHOT]) + encode_snapshot_meta(meta)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def encode_snapshot_meta(meta: SnapshotMeta) -> bytes:
    """``index term n_voters n_learners ids…``: the marker's payload and a snapshot file's meta."""
    voters, learners = meta.conf_state.voters, meta.conf_state.learners
    ids = b"".join(_NODE_ID.pack(node_id) for node_id in (*voters, *learners))
    return _META.pack(meta.index, meta.term, len(voters), len(learners)) + ids


def decode_snapshot_meta(buffer: bytes | memoryview) -> SnapshotMeta | None:
    """The inverse of :func:`encode_snapshot_meta`; None when ``buffer`` is not one."""
    if len(buffer) < _META.size:
        return None
    index, term, n_voters, n_learners = _META.unpack_from(buffer)
    if len(buffer) != _META.size + _NODE_ID.size * (n_voters + n_learners):
        return None
    ids = [_NODE_ID.unpack_from(buffer, _META.size + _NODE_ID.size * i)[0]
           for i in range(n_voters + n_learners)]
    return SnapshotMeta(index, term, ConfState(tuple(ids[:n_voters]), tuple(ids[n_voters:])))


# -- decoding -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Damage:
    """The first frame of a segment that could not be read."""

    offset: int
    reason: str
    followed_by_valid: bool
    """Whether a well-formed frame starts anywhere after ``offset``: then this is not a torn tail."""


@dataclass(frozen=True, slots=True)
class SegmentScan:
    """One segment's readable records, and where reading stopped."""

    records: tuple[tuple[int, Record], ...]
    """``(offset, record)`` pairs in file order."""
    valid_bytes: int
    damage: Damage | None


def decode_segment(data: bytes, source: str) -> SegmentScan:
    """Read frames from the start of ``data`` up to the end or the first damaged frame.

    Zeros up to the end are space allocated ahead, not records: the scan ends there. A
    damaged frame (cut short, a bad length or a checksum mismatch) stops the scan; the
    caller decides whether it is a torn tail. A frame whose checksum holds but whose body
    is not a record this version writes is never a torn tail: it raises.

    Raises:
        StorageError: a checksummed frame holds no known record (names ``source`` and offset).
    """
    view = memoryview(data)
    records: list[tuple[int, Record]] = []
    pos, end_of_data = 0, len(data)
    while pos < end_of_data:
        if _zeros_from(data, pos):
            break  # space allocated ahead of the records: their end
        reason = _frame_problem(view, pos)
        if reason is not None:
            damage = Damage(pos, reason, _valid_frame_after(data, pos))
            return SegmentScan(tuple(records), pos, damage)
        length = _FRAME.unpack_from(view, pos)[0]
        body_start = pos + _FRAME.size
        records.append((pos, _decode_body(view[body_start:body_start + length], source, pos)))
        pos = body_start + length
    return SegmentScan(tuple(records), pos, None)


def _zeros_from(data: bytes, pos: int) -> bool:
    """Whether ``data`` holds only zero bytes from ``pos`` on (a frame never starts with a zero
    length, so a zero where a frame would start is either this end or damage)."""
    return _NON_ZERO.search(data, pos) is None


def _frame_problem(view: memoryview, pos: int) -> str | None:
    """Why the frame at ``pos`` cannot be read, or None when it can."""
    if len(view) - pos < _FRAME.size:
        return "frame header cut short"
    length, crc = _FRAME.unpack_from(view, pos)
    if not 0 < length <= _MAX_BODY_BYTES:
        return f"impossible record length {length}"
    body_start = pos + _FRAME.size
    if body_start + length > len(view):
        return f"record of {length} bytes cut short at {len(view) - body_start}"
    if zlib.crc32(view[body_start:body_start + length]) != crc:
        return "checksum mismatch"
    return None


def _valid_frame_after(data: bytes, offset: int) -> bool:
    """Whether a well-formed frame starts anywhere after ``offset``.

    Only positions with a record type byte and a plausible body header are checksummed,
    so the scan costs little more than one pass over the bytes.
    """
    view = memoryview(data)
    for match in _RECORD_TYPE_BYTE.finditer(data, offset + 1 + _FRAME.size):
        pos = match.start() - _FRAME.size
        if _plausible_header(view, pos) and _frame_problem(view, pos) is None:
            return True
    return False


def _plausible_header(view: memoryview, pos: int) -> bool:
    """Whether the frame at ``pos`` could hold a record, judged without its checksum."""
    length: int = _FRAME.unpack_from(view, pos)[0]
    body = pos + _FRAME.size
    if length > len(view) - body:
        return False
    kind = view[body]
    if kind == RecordType.ENTRY and length >= _ENTRY.size:
        fields: tuple[int, int, int, int] = _ENTRY.unpack_from(view, body)
        _, term, index, entry_type = fields
        return term < _PLAUSIBLE_BOUND and index < _PLAUSIBLE_BOUND and entry_type < len(_ENTRY_TYPES)
    if kind == RecordType.SNAPSHOT and length >= _SNAPSHOT.size:
        n_ids: int = sum(_SNAPSHOT.unpack_from(view, body)[3:])
        return length == _SNAPSHOT.size + _NODE_ID.size * n_ids
    return kind == RecordType.HARD_STATE and length == _HARD_STATE.size


def _decode_body(body: memoryview, source: str, offset: int) -> Record:
    kind, size = body[0], len(body)
    if kind == RecordType.ENTRY and size >= _ENTRY.size:
        _, term, index, entry_type = _ENTRY.unpack_from(body)
        if entry_type < len(_ENTRY_TYPES):
            return Entry(term, index, _ENTRY_TYPES[entry_type], bytes(body[_ENTRY.size:]))
    elif kind == RecordType.HARD_STATE and size == _HARD_STATE.size:
        _, term, vote, commit = _HARD_STATE.unpack_from(body)
        return HardState(term, vote, commit)
    elif kind == RecordType.SNAPSHOT:
        meta = decode_snapshot_meta(body[1:])
        if meta is not None:
            return meta
    raise StorageError(f"{source}: record at offset {offset} has a valid checksum but is not "
                       f"a record this version knows (type {kind}, {size} bytes)")


# -- replay -------------------------------------------------------------------------


class LogReplay:
    """Folds records, in write order, into the log they describe (rules in the module doc)."""

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = SnapshotMeta()
        self._entries: list[Entry] = []
        self._covered: list[Entry] = []

    def add(self, source: str, records: Iterable[tuple[int, Record]]) -> None:
        """Replay one segment's ``(offset, record)`` pairs.

        Raises:
            StorageError: a record contradicts the log so far (names ``source`` and offset).
        """
        for offset, record in records:
            problem = None
            if isinstance(record, Entry):
                problem = self._add_entry(record)
            elif isinstance(record, HardState):
                self._hard_state = record
            else:
                problem = self._add_snapshot(record)
            if problem is not None:
                raise StorageError(f"{source}: record at offset {offset}: {problem}")

    def result(self, source: str, torn_tail: TornTail | None = None) -> WalState:
        """The recovered state (with the ``torn_tail`` the caller cut).

        Raises:
            StorageError: entries between the snapshot and the first entry are missing.
        """
        covered = self._snapshot.index
        if self._entries and self._entries[0].index != covered + 1:
            raise StorageError(f"{source}: entries {covered + 1} to {self._entries[0].index - 1} "
                               "are missing and no snapshot marker covers them")
        snapshot = self._snapshot if covered > 0 else None
        return WalState(self._hard_state, snapshot, tuple(self._entries), tuple(self._covered), torn_tail)

    def _add_entry(self, entry: Entry) -> str | None:
        if entry.index <= self._snapshot.index:
            return f"entry {entry.index} is at or below the snapshot index {self._snapshot.index}"
        entries = self._entries
        if entries:
            first, last = entries[0].index, entries[-1].index
            if entry.index > last + 1:
                return f"entry {entry.index} follows entry {last}: entries are missing"
            if entry.index <= last:
                # A conflicting suffix is replaced; below ``first`` it falls in a released hole.
                del entries[max(entry.index - first, 0):]
        entries.append(entry)
        return None

    def _add_snapshot(self, meta: SnapshotMeta) -> str | None:
        current = self._snapshot
        if meta.index < current.index or (meta.index == current.index and meta.term != current.term):
            return (f"snapshot marker ({meta.index}, {meta.term}) contradicts the earlier "
                    f"({current.index}, {current.term})")
        entries, covered = self._entries, self._covered
        if meta.index > current.index:
            first = entries[0].index if entries else current.index + 1
            position = meta.index - first
            if 0 <= position < len(entries) and entries[position].term == meta.term:
                covered += entries[:position + 1]
                del entries[:position + 1]
            elif position >= 0:
                # Not in the log: a leader's snapshot replaced it, nothing before it is usable.
                entries.clear()
                covered.clear()
            # else: the marker falls in a released hole (nothing is covered yet); the entries stand.
        self._snapshot = meta
        return None
