"""The etcd v3 request and response messages, as frozen values.

These mirror etcd's ``rpc.proto`` and ``kv.proto`` field for field (snake_case,
zero values meaning "unset"), so the JSON gateway codec maps them 1:1 and the
state machine never sees JSON. Byte strings stay ``bytes`` everywhere.

Validation that needs no state (a key is present, no key is written twice in
a txn, at most 128 ops) happens before a request is proposed; validation that
needs state (compacted revisions, unknown leases) happens when it is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "CompactionRequest",
    "Compare",
    "CompareResult",
    "CompareTarget",
    "DeleteRangeRequest",
    "DeleteRangeResponse",
    "Event",
    "EventType",
    "KeyValue",
    "LeaseGrantRequest",
    "LeaseGrantResponse",
    "LeaseRevokeRequest",
    "PutRequest",
    "PutResponse",
    "RangeRequest",
    "RangeResponse",
    "Request",
    "RequestOp",
    "Response",
    "ResponseOp",
    "SortOrder",
    "SortTarget",
    "TxnRequest",
    "TxnResponse",
    "WatchCancelRequest",
    "WatchCreateRequest",
    "WatchProgressRequest",
    "WatchRequest",
    "WatchResponse",
]


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One version of one key. ``lease`` 0 means no lease; ``value`` may be empty."""

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    value: bytes = b""
    lease: int = 0


class EventType(IntEnum):
    PUT = 0
    DELETE = 1


@dataclass(frozen=True, slots=True)
class Event:
    """A change seen by watchers.

    A DELETE event's ``kv`` carries only ``key`` and ``mod_revision`` (the
    revision of the delete), as etcd sends it.
    """

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None


class SortOrder(IntEnum):
    NONE = 0
    ASCEND = 1
    DESCEND = 2


class SortTarget(IntEnum):
    KEY = 0
    VERSION = 1
    CREATE = 2
    MOD = 3
    VALUE = 4


class CompareTarget(IntEnum):
    VERSION = 0
    CREATE = 1
    MOD = 2
    VALUE = 3
    LEASE = 4


class CompareResult(IntEnum):
    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


@dataclass(frozen=True, slots=True)
class RangeRequest:
    key: bytes
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: SortOrder = SortOrder.NONE
    sort_target: SortTarget = SortTarget.KEY
    serializable: bool = False
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0


@dataclass(frozen=True, slots=True)
class PutRequest:
    key: bytes
    value: bytes = b""
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


@dataclass(frozen=True, slots=True)
class DeleteRangeRequest:
    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    """One txn condition. ``operand`` is an int for VERSION/CREATE/MOD/LEASE, bytes for VALUE."""

    key: bytes
    target: CompareTarget = CompareTarget.VERSION
    result: CompareResult = CompareResult.EQUAL
    operand: int | bytes = 0
    range_end: bytes = b""


@dataclass(frozen=True, slots=True)
class TxnRequest:
    compare: tuple[Compare, ...] = ()
    success: tuple[RequestOp, ...] = ()
    failure: tuple[RequestOp, ...] = ()


RequestOp = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest


@dataclass(frozen=True, slots=True)
class CompactionRequest:
    revision: int
    physical: bool = False


@dataclass(frozen=True, slots=True)
class LeaseGrantRequest:
    """``id`` is chosen before proposing (never 0 in the log); ``ttl`` already clamped."""

    ttl: int
    id: int


@dataclass(frozen=True, slots=True)
class LeaseRevokeRequest:
    """Revoke by a client, or expiry proposed by the leader: the same command."""

    id: int


@dataclass(frozen=True, slots=True)
class RangeResponse:
    """``header_revision`` is the revision etcd names in this response's header.

    It is the store revision, except inside a write txn, where an op before the
    txn's first change names the revision before the txn (etcd does the same
    for Put/DeleteRange responses); 0 when unknown.
    """

    kvs: tuple[KeyValue, ...] = ()
    more: bool = False
    count: int = 0
    header_revision: int = 0


@dataclass(frozen=True, slots=True)
class PutResponse:
    prev_kv: KeyValue | None = None
    header_revision: int = 0


@dataclass(frozen=True, slots=True)
class DeleteRangeResponse:
    deleted: int = 0
    prev_kvs: tuple[KeyValue, ...] = ()
    header_revision: int = 0


@dataclass(frozen=True, slots=True)
class TxnResponse:
    succeeded: bool = False
    responses: tuple[ResponseOp, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaseGrantResponse:
    id: int
    ttl: int


@dataclass(frozen=True, slots=True)
class WatchCreateRequest:
    """``watch_id`` 0 means "assign one"; ``start_revision`` 0 means "from now"."""

    key: bytes
    range_end: bytes = b""
    start_revision: int = 0
    progress_notify: bool = False
    no_put: bool = False
    no_delete: bool = False
    prev_kv: bool = False
    watch_id: int = 0
    fragment: bool = False


@dataclass(frozen=True, slots=True)
class WatchCancelRequest:
    watch_id: int


@dataclass(frozen=True, slots=True)
class WatchProgressRequest:
    pass


WatchRequest = WatchCreateRequest | WatchCancelRequest | WatchProgressRequest


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """One message of a watch stream. ``watch_id`` -1 answers a progress request."""

    watch_id: int = 0
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""
    fragment: bool = False
    events: tuple[Event, ...] = ()


Request = (
    RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest | CompactionRequest
    | LeaseGrantRequest | LeaseRevokeRequest
)
ResponseOp = RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse
Response = ResponseOp | LeaseGrantResponse | None
