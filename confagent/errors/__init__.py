"""The one exception tree of confagent.

Every error the product raises derives from :class:`ConfagentError`. Foreign
exceptions (OSError, httpx errors, JSON decoding errors) are mapped to these
at the boundary where they happen; only ``cli`` turns an error into an exit.

::

    ConfagentError
    ├── StoreError                 an etcd API error: gRPC code + etcd's literal message
    │   ├── InvalidArgument        code 3  (bad JSON, bad base64, key not provided, …)
    │   │   ├── KeyNotProvided, ValueProvided, LeaseProvided, KeyNotFound,
    │   │   └── DuplicateKey, TooManyOps, RequestTooLarge
    │   ├── OutOfRange             code 11 (Compacted, FutureRevision, LeaseTTLTooLarge)
    │   ├── LeaseNotFound          code 5
    │   ├── LeaseExists            code 9
    │   ├── ResourceExhausted      code 8
    │   ├── Unavailable            code 14 (NoLeader, RequestTimeout, Stopped, UnhealthyCluster,
    │   │                          NotSupportedForLearner)
    │   ├── Internal               code 13
    │   ├── NotLeader, BadLeaderTransferee   code 9: a leadership transfer asked of a follower, or
    │   │                          to a member that cannot lead; LeaderTransferTimeout (code 2): too long
    │   ├── ConcurrencyError       code 2: a lock or election call refused, the store's errors inside one too
    │   │   └── ElectionNoLeader, ElectionNotLeader, LeaderKeyMissing, LockSessionExpired
    │   ├── AuthError              etcd's Auth service and permission checks refused a call (etcd's codes
    │   │   │                      and messages)
    │   │   └── AuthNotEnabled, RootUserNotExist, RootRoleNotExist, UserNotFound, RoleNotFound,
    │   │       UserEmpty, RoleEmpty, UserAlreadyExist, RoleAlreadyExist, AuthFailed,
    │   │       PermissionDenied, RoleNotGranted, PermissionNotGranted, InvalidAuthToken,
    │   │       InvalidAuthMgmt, AuthOldRevision, NoPasswordUser, VerifyOnly, AuthStoreWords (the auth
    │   │       store's own words, sent as Unknown where etcd sends them unmapped)
    │   └── MembershipError        a member add/remove/update/promote refused (etcd's codes and messages):
    │       └── MemberNotFound, MemberExists, PeerURLExists, MemberBadURLs, MemberNotLearner,
    │           LearnerNotReady, TooManyLearners, NotEnoughStartedMembers
    ├── ClientError                the client could not get an answer (all endpoints failed)
    │   └── AmbiguousWrite         a write may or may not have been applied: never retried
    ├── LockLost                   a lock's key is gone (its lease expired, or it was released): a write
    │                              fenced by it was refused
    ├── MemberStopped              this store member cannot go on: it must stop
    │   ├── MemberRemoved          it was removed from its cluster
    │   └── MemberFailed           its Raft driver ended with an error (a bug): restart it
    ├── StorageError               the write-ahead log, a snapshot or the agent's cache is unreadable or
    │                              unwritable (a cache from another cluster is refused with it too)
    │   └── DataDirInUse           another process runs from the data directory (its log is locked)
    ├── PeerError                  a store member sent a frame this member cannot read
    ├── ConfigError                a bad flag, file or field; names the file and the key
    ├── ApplyError                 a destination file could not be staged, replaced or restored
    │   ├── CommandFailed          a check_cmd or reload_cmd exited non-zero or timed out
    │   │   ├── CheckFailed        check_cmd rejected the staged file; dest untouched
    │   │   └── ReloadFailed       reload_cmd failed after the replace; rolled back unless told not to
    │   └── ReloadDeferred         no slot of the resource's reload_lock was had: dest untouched, retried
    ├── RenderError                a template could not be rendered; names the template, line and key
    ├── BackendError               a backend could not give its data, or gave data that cannot be used
    │   ├── SourceFileError        a file backend's file is unreadable or malformed; names the file and line
    │   ├── UndecodableKey         a store key or value is not UTF-8; that key is skipped
    │   ├── ResyncNeeded           the changes after a revision are gone: take a new snapshot
    │   └── CacheDiverged          the local cache differs from a fresh snapshot (periodic verification)
    ├── MetadRequestError          a request to the metadata service is malformed (answered 400)
    └── ResolveError               a host name or SRV record could not be resolved (render's DNS helpers)
"""

from __future__ import annotations

from confagent.errors._auth import (
    AuthError,
    AuthFailed,
    AuthNotEnabled,
    AuthOldRevision,
    AuthStoreWords,
    InvalidAuthMgmt,
    InvalidAuthToken,
    NoPasswordUser,
    PermissionDenied,
    PermissionNotGranted,
    RoleAlreadyExist,
    RoleEmpty,
    RoleNotFound,
    RoleNotGranted,
    RootRoleNotExist,
    RootUserNotExist,
    UserAlreadyExist,
    UserEmpty,
    UserNotFound,
    VerifyOnly,
    in_auth_store_words,
)
from confagent.errors._base import (
    ConfagentError,
)
from confagent.errors._local import (
    AmbiguousWrite,
    ApplyError,
    BackendError,
    CacheDiverged,
    CheckFailed,
    ClientError,
    CommandFailed,
    ConfigError,
    DataDirInUse,
    LockLost,
    MemberFailed,
    MemberRemoved,
    MemberStopped,
    MetadRequestError,
    PeerError,
    ReloadDeferred,
    ReloadFailed,
    RenderError,
    ResolveError,
    ResyncNeeded,
    SourceFileError,
    StorageError,
    UndecodableKey,
)
from confagent.errors._membership import (
    LearnerNotReady,
    MemberBadURLs,
    MemberExists,
    MemberNotFound,
    MemberNotLearner,
    MembershipError,
    NotEnoughStartedMembers,
    PeerURLExists,
    TooManyLearners,
)
from confagent.errors._store import (
    BadLeaderTransferee,
    Compacted,
    ConcurrencyError,
    DuplicateKey,
    ElectionNoLeader,
    ElectionNotLeader,
    FutureRevision,
    GrpcStatus,
    Internal,
    InvalidArgument,
    KeyNotFound,
    KeyNotProvided,
    LeaderKeyMissing,
    LeaderTransferTimeout,
    LeaseExists,
    LeaseNotFound,
    LeaseProvided,
    LeaseTTLTooLarge,
    LockSessionExpired,
    NoLeader,
    NotLeader,
    NotSupportedForLearner,
    OutOfRange,
    RequestTooLarge,
    ResourceExhausted,
    Stopped,
    StoreError,
    TooManyOps,
    Unavailable,
    UnhealthyCluster,
    ValueProvided,
    http_status_of,
    store_error_from,
)

__all__ = [
    "AmbiguousWrite",
    "ApplyError",
    "AuthError",
    "AuthFailed",
    "AuthNotEnabled",
    "AuthOldRevision",
    "AuthStoreWords",
    "BackendError",
    "BadLeaderTransferee",
    "CacheDiverged",
    "CheckFailed",
    "ClientError",
    "CommandFailed",
    "Compacted",
    "ConcurrencyError",
    "ConfagentError",
    "ConfigError",
    "DataDirInUse",
    "DuplicateKey",
    "ElectionNoLeader",
    "ElectionNotLeader",
    "FutureRevision",
    "GrpcStatus",
    "Internal",
    "InvalidArgument",
    "InvalidAuthMgmt",
    "InvalidAuthToken",
    "KeyNotFound",
    "KeyNotProvided",
    "LeaderKeyMissing",
    "LeaderTransferTimeout",
    "LearnerNotReady",
    "LeaseExists",
    "LeaseNotFound",
    "LeaseProvided",
    "LeaseTTLTooLarge",
    "LockLost",
    "LockSessionExpired",
    "MemberBadURLs",
    "MemberExists",
    "MemberFailed",
    "MemberNotFound",
    "MemberNotLearner",
    "MemberRemoved",
    "MemberStopped",
    "MembershipError",
    "MetadRequestError",
    "NoLeader",
    "NoPasswordUser",
    "NotEnoughStartedMembers",
    "NotLeader",
    "NotSupportedForLearner",
    "OutOfRange",
    "PeerError",
    "PeerURLExists",
    "PermissionDenied",
    "PermissionNotGranted",
    "ReloadDeferred",
    "ReloadFailed",
    "RenderError",
    "RequestTooLarge",
    "ResolveError",
    "ResourceExhausted",
    "ResyncNeeded",
    "RoleAlreadyExist",
    "RoleEmpty",
    "RoleNotFound",
    "RoleNotGranted",
    "RootRoleNotExist",
    "RootUserNotExist",
    "SourceFileError",
    "Stopped",
    "StorageError",
    "StoreError",
    "TooManyLearners",
    "TooManyOps",
    "Unavailable",
    "UndecodableKey",
    "UnhealthyCluster",
    "UserAlreadyExist",
    "UserEmpty",
    "UserNotFound",
    "ValueProvided",
    "VerifyOnly",
    "http_status_of",
    "in_auth_store_words",
    "store_error_from",
]
