"""The embedded store's state machine: etcd v3.4 semantics as pure, deterministic code.

``KvStore`` applies committed commands (MVCC revisions, ranges, txns,
compaction, leases) and serves reads, watch history and snapshots;
``validate`` holds the checks made before proposing (and
``check_raft_request_size`` etcd's Raft request limit, ``request_bytes``); ``encode_request`` and
``decode_request`` are the Raft log's encoding; ``LiveKeys`` the newest keys of a
snapshot read without restoring the store; ``Lessor`` keeps the leader's
lease deadlines and ``WatchHub`` decides which watcher sees which change;
``prefix_end`` and ``prefix_range`` are etcd's key range of a prefix (and
``FROM_KEY`` its "every key from here"), for every package that asks for one.
No clock, no I/O: the server drives all of it.

The key ranges and the limits (``MAX_TXN_OPS``, ...) load with the package;
the messages and the checks on first use of one of their names, and the
store's machinery (``KvStore``, the log codec and msgpack, ``Lessor``,
``WatchHub``) on first use too, so that a client, which needs only the
messages, does not pay for the machinery at start-up, and a one-shot's
snapshot over gRPC, which needs only the ranges and the limits, not even
for the messages (19 frozen dataclasses: 7-10 ms of its start-up).
"""

from typing import TYPE_CHECKING

from confagent.kv._keys import FROM_KEY, prefix_end, prefix_range
from confagent.kv._limits import MAX_LEASE_TTL, MAX_REQUEST_BYTES, MAX_TXN_OPS
from confagent.lazy import lazy_exports

if TYPE_CHECKING:
    from confagent.kv._codec import decode_request, encode_request
    from confagent.kv._leases import LeaseInfo
    from confagent.kv._lessor import Lessor
    from confagent.kv._live import LiveKeys
    from confagent.kv._messages import (
        CompactionRequest,
        Compare,
        CompareResult,
        CompareTarget,
        DeleteRangeRequest,
        DeleteRangeResponse,
        Event,
        EventType,
        KeyValue,
        LeaseGrantRequest,
        LeaseGrantResponse,
        LeaseRevokeRequest,
        PutRequest,
        PutResponse,
        RangeRequest,
        RangeResponse,
        Request,
        RequestOp,
        Response,
        ResponseOp,
        SortOrder,
        SortTarget,
        TxnRequest,
        TxnResponse,
        WatchCancelRequest,
        WatchCreateRequest,
        WatchProgressRequest,
        WatchRequest,
        WatchResponse,
    )
    from confagent.kv._sizes import check_raft_request_size, request_bytes
    from confagent.kv._snapshot import SnapshotState
    from confagent.kv._store import Applied, KvStore
    from confagent.kv._txn import is_read_only
    from confagent.kv._validate import validate
    from confagent.kv._watch import CatchUp, Watcher, WatchHub

__all__ = [
    "FROM_KEY",
    "MAX_LEASE_TTL",
    "MAX_REQUEST_BYTES",
    "MAX_TXN_OPS",
    "Applied",
    "CatchUp",
    "CompactionRequest",
    "Compare",
    "CompareResult",
    "CompareTarget",
    "DeleteRangeRequest",
    "DeleteRangeResponse",
    "Event",
    "EventType",
    "KeyValue",
    "KvStore",
    "LeaseGrantRequest",
    "LeaseGrantResponse",
    "LeaseInfo",
    "LeaseRevokeRequest",
    "Lessor",
    "LiveKeys",
    "PutRequest",
    "PutResponse",
    "RangeRequest",
    "RangeResponse",
    "Request",
    "RequestOp",
    "Response",
    "ResponseOp",
    "SnapshotState",
    "SortOrder",
    "SortTarget",
    "TxnRequest",
    "TxnResponse",
    "WatchCancelRequest",
    "WatchCreateRequest",
    "WatchHub",
    "WatchProgressRequest",
    "WatchRequest",
    "WatchResponse",
    "Watcher",
    "check_raft_request_size",
    "decode_request",
    "encode_request",
    "is_read_only",
    "prefix_end",
    "prefix_range",
    "request_bytes",
    "validate",
]

_MESSAGES = (
    "CompactionRequest", "Compare", "CompareResult", "CompareTarget", "DeleteRangeRequest",
    "DeleteRangeResponse", "Event", "EventType", "KeyValue", "LeaseGrantRequest", "LeaseGrantResponse",
    "LeaseRevokeRequest", "PutRequest", "PutResponse", "RangeRequest", "RangeResponse", "Request",
    "RequestOp", "Response", "ResponseOp", "SortOrder", "SortTarget", "TxnRequest", "TxnResponse",
    "WatchCancelRequest", "WatchCreateRequest", "WatchProgressRequest", "WatchRequest", "WatchResponse",
)
"""The names of ``_messages``, loaded together on first use of one (module docstring)."""

_LAZY_MODULES = {"decode_request": "_codec", "encode_request": "_codec", "LeaseInfo": "_leases",
                 "Lessor": "_lessor", "LiveKeys": "_live", "Applied": "_store", "KvStore": "_store",
                 "CatchUp": "_watch",
                 "Watcher": "_watch", "WatchHub": "_watch", "SnapshotState": "_snapshot",
                 "check_raft_request_size": "_sizes", "request_bytes": "_sizes", "validate": "_validate",
                 "is_read_only": "_txn",
                 **dict.fromkeys(_MESSAGES, "_messages")}
"""Names loaded on first use, by the module defining them (module docstring)."""


if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)
