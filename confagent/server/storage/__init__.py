"""A member's data directory: the write-ahead log, snapshot files, recovery, identity and serving record.

Everything a member keeps on disk, and nothing else of the server (it imports
no other part of ``confagent.server``)::

    DATA_DIR/member/wal/*.wal        the write-ahead log (_wal, its records _wal_records), written
                                     from asyncio by one fsync thread (_fsync_thread: WalWriter)
    DATA_DIR/member/snap/*.snap      snapshot files (_snapfile: SnapshotFiles)
    DATA_DIR/member/identity.json    the member and cluster IDs fixed at the first start (_identity)
    DATA_DIR/member/serving.json     where the running member takes client requests (_serving)
    a saved snapshot (any path)      what ``snapshot save`` writes and ``restore`` reads (_saved_snapshot)
    an etcd snapshot (any path)      what etcd 3.4 saves, which ``restore`` reads too (_etcd_snapshot)

Opening a member's storage (``open_storage``, ``_recovery``) loads the newest
readable snapshot and replays the log from it, cutting a torn tail; ``read_storage``
finds the same without locking or writing anything (an offline reader's).
"""

import typing

from confagent import lazy
from confagent.server.storage._identity import Identity, load_or_keep_identity, read_identity
from confagent.server.storage._recovery import (
    RecoveryReport,
    Storage,
    StoredState,
    log_recovery,
    open_storage,
    read_storage,
)
from confagent.server.storage._snapfile import KEEP_SNAPSHOTS, SnapshotFiles, storage_errors
from confagent.server.storage._wal import SEGMENT_BYTES, MemberDirs, TornTail, Wal, WalState

if typing.TYPE_CHECKING:
    from confagent.server.storage._etcd_snapshot import (
        SnapshotStatus,
        is_etcd_snapshot,
        read_etcd_snapshot,
        read_snapshot_status,
    )
    from confagent.server.storage._fsync_thread import WalWriter
    from confagent.server.storage._saved_snapshot import (
        PAGE_BYTES,
        SavedSnapshot,
        SnapshotImage,
        encode_image,
        encode_with_digest,
        read_saved_snapshot,
    )
    from confagent.server.storage._serving import (
        ServingRecord,
        read_serving_record,
        remove_serving_record,
        serving_record_path,
        write_serving_record,
    )

__all__ = [
    "KEEP_SNAPSHOTS",
    "PAGE_BYTES",
    "SEGMENT_BYTES",
    "Identity",
    "MemberDirs",
    "RecoveryReport",
    "SavedSnapshot",
    "ServingRecord",
    "SnapshotFiles",
    "SnapshotImage",
    "SnapshotStatus",
    "Storage",
    "StoredState",
    "TornTail",
    "Wal",
    "WalState",
    "WalWriter",
    "encode_image",
    "encode_with_digest",
    "is_etcd_snapshot",
    "load_or_keep_identity",
    "log_recovery",
    "open_storage",
    "read_etcd_snapshot",
    "read_identity",
    "read_saved_snapshot",
    "read_serving_record",
    "read_snapshot_status",
    "read_storage",
    "remove_serving_record",
    "serving_record_path",
    "storage_errors",
    "write_serving_record",
]

_LAZY_MODULES = {
    **dict.fromkeys(("SnapshotStatus", "is_etcd_snapshot", "read_etcd_snapshot", "read_snapshot_status"),
                    "_etcd_snapshot"),
    "WalWriter": "_fsync_thread",
    **dict.fromkeys(("PAGE_BYTES", "SavedSnapshot", "SnapshotImage", "encode_image", "encode_with_digest",
                     "read_saved_snapshot"), "_saved_snapshot"),
    **dict.fromkeys(("ServingRecord", "read_serving_record", "remove_serving_record", "serving_record_path",
                     "write_serving_record"), "_serving"),
}
"""Names loaded on first use, by the module defining them: what the offline reader (``read_storage``)
does not use, etcd's bbolt reader and the fsync thread among them."""

if not typing.TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead
    __getattr__, __dir__ = lazy.lazy_exports(__name__, globals(), _LAZY_MODULES)
