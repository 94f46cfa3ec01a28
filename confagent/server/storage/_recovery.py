"""Opening a member's storage: the newest readable snapshot, the log replayed from it, and what was repaired.

Rules:

1. The member starts from the newest snapshot file that reads back whole; unreadable
   newer ones are set aside as ``.broken`` (``SnapshotFiles``). The log is kept back to
   the oldest snapshot file (``_wal`` rule 5), so it replays from whichever was chosen
   (``WalState.starting_at``), as etcd replays its WAL from the newest usable snapshot.
2. A torn tail of the log is cut (``Wal.open``).
3. Opening logs nothing: its report says what was cut or passed over, and the server
   logs that (``log_recovery``), one warning line per repair.
4. ``read_storage`` finds what opening would start from without opening: nothing is
   locked, cut or set aside, so it can read beside a running member (``_wal.read_log``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confagent.errors import StorageError
from confagent.raft._types import SnapshotMeta
from confagent.server.storage._snapfile import BrokenSnapshot, SnapshotFiles, newest_snapshot
from confagent.server.storage._wal import SEGMENT_BYTES, MemberDirs, TornTail, Wal, WalState, read_log

if TYPE_CHECKING:
    import structlog

__all__ = ["RecoveryReport", "Storage", "StoredState", "log_recovery", "open_storage", "read_storage"]


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What opening the data directory repaired or passed over (rule 3)."""

    snapshot: SnapshotMeta | None = None
    """The snapshot the member started from."""
    broken_snapshots: tuple[BrokenSnapshot, ...] = ()
    """Newer snapshot files that could not be read, newest first."""
    torn_tail: TornTail | None = None
    replayed_entries: int = 0
    """How many log entries follow the snapshot."""


@dataclass(frozen=True, slots=True)
class Storage:
    """An opened member's storage: its log, and the state to start from."""

    wal: Wal
    state: WalState
    """The log as replayed from ``state.snapshot``, the snapshot started from."""
    snapshot_data: bytes | None
    """That snapshot's payload; None without one."""
    report: RecoveryReport


def open_storage(data_dir: Path, snapshots: SnapshotFiles, segment_bytes: int = SEGMENT_BYTES) -> Storage:
    """Load the newest readable snapshot and open the log from it (rules 1 and 2). Blocking.

    Raises:
        StorageError: no snapshot file is readable, the log is damaged other than at its
            tail, or it does not reach back to the newest readable snapshot.
    """
    loaded = snapshots.load_latest()
    meta, data = loaded if loaded is not None else (None, None)
    wal, state = Wal.open(data_dir, segment_bytes)
    try:
        started = state.starting_at(meta, str(data_dir / "member"))
    except BaseException:
        wal.close()
        raise
    report = RecoveryReport(meta, tuple(snapshots.broken), state.torn_tail, len(started.entries))
    return Storage(wal, started, data, report)


@dataclass(frozen=True, slots=True)
class StoredState:
    """What a member would start from, read without opening its storage (rule 4)."""

    state: WalState
    """The log as replayed from ``state.snapshot``, the newest readable snapshot."""
    snapshot_data: bytes | None
    report: RecoveryReport
    """What opening would repair; a broken snapshot's ``kept_as`` is its own path (nothing renamed)."""


def read_storage(data_dir: Path) -> StoredState:
    """The newest readable snapshot and the log replayed from it, as ``open_storage`` finds them,
    without locking or writing anything (rule 4). Blocking.

    Raises:
        StorageError: no store's data in ``data_dir``, no snapshot file readable, or the log
            damaged other than at its tail or not reaching back to the snapshot (names the path).
        OSError: a file could not be read, or went away while read (a running member releasing it).
    """
    snap_dir = MemberDirs.of(data_dir).snap
    found, passed_over = newest_snapshot(snap_dir) if snap_dir.is_dir() else (None, [])
    if found is None and passed_over:
        reasons = "; ".join(f"{path}: {reason}" for path, reason in passed_over)
        raise StorageError(f"snap: no readable snapshot in {snap_dir}: {reasons}")
    state = read_log(data_dir)
    meta, data = found if found is not None else (None, None)
    started = state.starting_at(meta, str(data_dir / "member"))
    broken = tuple(BrokenSnapshot(path, path, reason) for path, reason in passed_over)
    return StoredState(started, data, RecoveryReport(meta, broken, state.torn_tail, len(started.entries)))


def log_recovery(report: RecoveryReport, log: structlog.typing.FilteringBoundLogger) -> None:
    """One warning line for each repair ``report`` tells of (rule 3)."""
    tail = report.torn_tail
    if tail is not None:
        log.warning("wal: cut a torn tail", file=tail.path, offset=tail.offset, bytes=tail.cut_bytes,
                    reason=tail.reason)
    start = report.snapshot.index if report.snapshot is not None else 0
    for broken in report.broken_snapshots:
        log.warning("snapshot unreadable: started from an older one", file=str(broken.path),
                    kept_as=str(broken.kept_as), reason=broken.reason, snapshot_index=start,
                    replayed_entries=report.replayed_entries)
