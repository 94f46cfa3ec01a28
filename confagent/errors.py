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
    ├── StorageError               the write-ahead log or a snapshot is unreadable or unwritable
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

__all__ = [
    "AmbiguousWrite",
    "ApplyError",
    "AuthError",
    "AuthNotBuilt",
    "AuthNotEnabled",
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
    "NotEnoughStartedMembers",
    "NotLeader",
    "NotSupportedForLearner",
    "OutOfRange",
    "PeerError",
    "PeerURLExists",
    "ReloadDeferred",
    "ReloadFailed",
    "RenderError",
    "RequestTooLarge",
    "ResolveError",
    "ResourceExhausted",
    "ResyncNeeded",
    "RoleEmpty",
    "RoleNotFound",
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
    "UserEmpty",
    "UserNotFound",
    "ValueProvided",
    "http_status_of",
    "store_error_from",
]


class ConfagentError(Exception):
    """Base of every error confagent raises."""


class StoreError(ConfagentError):
    """An error of the etcd v3 API, with its gRPC code and etcd's literal message.

    Subclasses fix ``code`` and usually ``default_message``; the message given
    to the constructor wins, so decoding errors can carry their own text.
    """

    code: int = 2
    default_message: str = "unknown error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return http_status_of(self.code)


class InvalidArgument(StoreError):
    code = 3
    default_message = "invalid argument"


class KeyNotProvided(InvalidArgument):
    default_message = "etcdserver: key is not provided"


class ValueProvided(InvalidArgument):
    default_message = "etcdserver: value is provided"


class LeaseProvided(InvalidArgument):
    default_message = "etcdserver: lease is provided"


class KeyNotFound(InvalidArgument):
    default_message = "etcdserver: key not found"


class DuplicateKey(InvalidArgument):
    default_message = "etcdserver: duplicate key given in txn request"


class TooManyOps(InvalidArgument):
    default_message = "etcdserver: too many operations in txn request"


class RequestTooLarge(InvalidArgument):
    default_message = "etcdserver: request is too large"


class OutOfRange(StoreError):
    code = 11


class Compacted(OutOfRange):
    default_message = "etcdserver: mvcc: required revision has been compacted"


class FutureRevision(OutOfRange):
    default_message = "etcdserver: mvcc: required revision is a future revision"


class LeaseTTLTooLarge(OutOfRange):
    default_message = "etcdserver: too large lease TTL"


class LeaseNotFound(StoreError):
    code = 5
    default_message = "etcdserver: requested lease not found"


class LeaseExists(StoreError):
    code = 9
    default_message = "etcdserver: lease already exists"


class ResourceExhausted(StoreError):
    code = 8
    default_message = "etcdserver: too many requests"


class Unavailable(StoreError):
    code = 14
    default_message = "etcdserver: request timed out"


class NoLeader(Unavailable):
    default_message = "etcdserver: no leader"


class Stopped(Unavailable):
    """The member is stopping, or its driver failed: the request was not (or may not have been) applied."""

    default_message = "etcdserver: server stopped"


class Internal(StoreError):
    code = 13
    default_message = "etcdserver: internal error"


class UnhealthyCluster(Unavailable):
    default_message = "etcdserver: unhealthy cluster"


class NotSupportedForLearner(Unavailable):
    """A learner member refused a client request it does not serve (``server/api/_learner.py``)."""

    default_message = "etcdserver: rpc not supported for learner"


class NotLeader(StoreError):
    """A call only the leader answers (a leadership transfer) asked of another member."""

    code = 9
    default_message = "etcdserver: not leader"


class BadLeaderTransferee(StoreError):
    """Leadership asked to move to a member that is not one, or is a learner."""

    code = 9
    default_message = "etcdserver: bad leader transferee"


class LeaderTransferTimeout(StoreError):
    """The transferee did not take over within the request timeout (etcd answers it with code 2)."""

    code = 2
    default_message = "etcdserver: request timed out, leader transfer took too long"


class ConcurrencyError(StoreError):
    """A call of the lock or election service refused, with gRPC code 2 (Unknown), as etcd answers:
    its services are clients of their own server, so a store error met inside one (an unknown
    lease, a key not provided) reaches the caller as code 2 with the store's message too."""

    code = 2


class ElectionNoLeader(ConcurrencyError):
    default_message = "election: no leader"


class ElectionNotLeader(ConcurrencyError):
    """A Proclaim (or a Campaign's own proclaim) whose leader key is gone or was created anew."""

    default_message = "election: not leader"


class LeaderKeyMissing(ConcurrencyError):
    default_message = '"leader" field must be provided'


class LockSessionExpired(ConcurrencyError):
    """The caller's turn came, but its lock key had gone meanwhile (its lease expired or was revoked).

    etcd 3.4 grants the lock then anyway, to a key that no longer exists, so two callers can
    hold it at once; etcd 3.5 refuses it with these words, and so does confagent."""

    default_message = "mutex: session is expired"


class GrpcStatus(StoreError):
    """A gRPC status with no etcd error of its own: given by the transport (a deadline, an
    unknown method, a compressed message) or a service (an unknown health service), in grpc-go's words."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class AuthError(StoreError):
    """A refusal of etcd's Auth service (FailedPrecondition, unless said otherwise)."""

    code = 9


class AuthNotEnabled(AuthError):
    default_message = "etcdserver: authentication is not enabled"


class RootUserNotExist(AuthError):
    default_message = "etcdserver: root user does not exist"


class UserNotFound(AuthError):
    default_message = "etcdserver: user name not found"


class RoleNotFound(AuthError):
    default_message = "etcdserver: role name not found"


class UserEmpty(AuthError):
    code = 3
    default_message = "etcdserver: user name is empty"


class RoleEmpty(AuthError):
    code = 3
    default_message = "etcdserver: role name is empty"


class AuthNotBuilt(AuthError):
    """A user or role to be created: confagent keeps none yet (etcd would create it)."""

    code = 12
    default_message = "confagent: users and roles are not supported yet (auth stays disabled)"


class MembershipError(StoreError):
    """A membership change refused: by the checks before proposing, or when its entry is applied."""


class MemberNotFound(MembershipError):
    code = 5
    default_message = "etcdserver: member not found"


class MemberExists(MembershipError):
    code = 9
    default_message = "etcdserver: member ID already exist"


class PeerURLExists(MembershipError):
    code = 9
    default_message = "etcdserver: Peer URLs already exists"


class MemberBadURLs(MembershipError):
    code = 3
    default_message = "etcdserver: given member URLs are invalid"


class MemberNotLearner(MembershipError):
    code = 9
    default_message = "etcdserver: can only promote a learner member"


class LearnerNotReady(MembershipError):
    code = 9
    default_message = "etcdserver: can only promote a learner member which is in sync with leader"


class TooManyLearners(MembershipError):
    code = 9
    default_message = "etcdserver: too many learner members in cluster"


class NotEnoughStartedMembers(MembershipError):
    """etcd 3.4's gateway answers this one with code 2 (unknown), HTTP 500."""

    code = 2
    default_message = "etcdserver: re-configuration failed due to not enough started members"


class MemberStopped(ConfagentError):
    """This store member cannot go on: the ``store`` command (or the agent embedding it) stops
    and exits non-zero; never retried."""


class MemberRemoved(MemberStopped):
    """This store member applied its own removal (or heard of it): it stops, and the
    ``store`` command exits non-zero with etcd's words."""

    def __init__(self, message: str = "the member has been permanently removed from the cluster") -> None:
        super().__init__(message)


class MemberFailed(MemberStopped):
    """A task that owns the member's state (the Raft driver) ended with an error: the member
    would accept requests it can never answer, so it stops instead (as etcd panics), and a
    supervisor (systemd) restarts it from its log."""


class ClientError(ConfagentError):
    """No endpoint gave an answer (connection refused, timeouts, TLS failures)."""


class AmbiguousWrite(ClientError):
    """A write was sent but its outcome is unknown; it is never retried blindly."""


class LockLost(ConfagentError):
    """A lock no longer holds: its key is gone (its session's lease expired or was revoked, or the
    lock was released), so a write fenced by it (``confagent.client.Fence``) was refused, unapplied.
    A holder that meets this must stop acting as the holder."""


class PeerError(ConfagentError):
    """A peer's frame is not a Raft message this member can read (version or corruption)."""


class StorageError(ConfagentError):
    """The write-ahead log, a snapshot or the data directory cannot be used."""


class DataDirInUse(StorageError):
    """Another process holds the data directory: its write-ahead log is locked."""


class ConfigError(ConfagentError):
    """A bad command-line flag, configuration file or field.

    ``file`` names where the value came from (a path, or ``command line``) and
    ``key`` the field (``template.mode``, ``--interval``), when known; ``str()``
    reads ``conf.d/app.toml: template.mode: "644" is not an octal mode ...``.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.message = message
        self.file = file
        self.key = key
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ApplyError(ConfagentError):
    """A destination file could not be staged, replaced, backed up or restored.

    ``dest`` names the file; ``str()`` reads ``/etc/app.conf: <what went wrong>``.
    """

    def __init__(self, message: str, *, dest: str) -> None:
        self.message = message
        self.dest = dest
        super().__init__(f"{dest}: {message}")


class CommandFailed(ApplyError):
    """A ``check_cmd`` or ``reload_cmd`` exited non-zero, or ran past its timeout and was killed.

    ``output`` holds the command's combined stdout and stderr (bounded);
    ``exit_code`` is None when the command was killed for its timeout
    (``timed_out``) or by a signal.
    """

    def __init__(
        self, message: str, *, dest: str, command: str, exit_code: int | None, output: str,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message, dest=dest)
        self.command = command
        self.exit_code = exit_code
        self.output = output
        self.timed_out = timed_out


class CheckFailed(CommandFailed):
    """``check_cmd`` rejected the staged file: the destination was left untouched."""


class ReloadFailed(CommandFailed):
    """``reload_cmd`` failed after the destination was replaced.

    ``rolled_back`` tells whether the previous file was restored (and reloaded
    again); it is False when the resource says ``rollback = false`` or the
    restore itself failed (the message says which).
    """

    def __init__(
        self, message: str, *, dest: str, command: str, exit_code: int | None, output: str,
        timed_out: bool = False, rolled_back: bool = False,
    ) -> None:
        super().__init__(message, dest=dest, command=command, exit_code=exit_code, output=output,
                         timed_out=timed_out)
        self.rolled_back = rolled_back


class ReloadDeferred(ApplyError):
    """No slot of the resource's ``reload_lock`` could be taken (every slot still held when the wait
    ended, the store unreachable, or no store to hold one): the destination was left as it was and
    nothing ran, so that the agent tries again later; a reload never runs without its slot."""


class RenderError(ConfagentError):
    """A template could not be rendered: bad syntax, an undefined name, a missing key, bad data.

    ``template`` and ``line`` say where (``None`` when unknown, e.g. a missing
    template), ``key`` names the store key involved, if any, as the template
    wrote it. ``str()`` reads ``templates/nginx.conf.tmpl:12: key not found: /a``.
    """

    def __init__(
        self, message: str, *, template: str | None = None, line: int | None = None, key: str | None = None
    ) -> None:
        self.message = message
        self.template = template
        self.line = line
        self.key = key
        where = template if line is None else f"{template}:{line}"
        super().__init__(message if template is None else f"{where}: {message}")


class ResolveError(ConfagentError):
    """A host name or an SRV record could not be resolved; raised by a render host's lookups."""


class BackendError(ConfagentError):
    """A backend could not give its data (see the subclasses); the cache keeps its last good view."""


class SourceFileError(BackendError):
    """A file of the file backend cannot be used; ``str()`` reads ``data/app.yaml:3: <problem>``.

    ``line`` is 1-based, None when the problem is not at a line (a missing file).
    """

    def __init__(self, path: str, problem: str, *, line: int | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {problem}")


class UndecodableKey(BackendError):
    """A key, or its value, is not UTF-8: the key is left out of the data (``key`` is the raw key)."""

    def __init__(self, key: bytes, what: str = "key") -> None:
        self.key = key
        super().__init__(f"the {what} of store key {key!r} is not UTF-8; the key is skipped")


class ResyncNeeded(BackendError):
    """The changes after the requested revision are no longer known: take a new snapshot.

    A store reports this as :class:`Compacted`; other backends raise this.
    """


class CacheDiverged(BackendError):
    """Periodic verification found the local cache different from a fresh snapshot."""


class MetadRequestError(ConfagentError):
    """A request to the metadata service (``confagent metad``) is malformed: bad JSON, a mapping key
    that is not an IP address, an access mode other than 0 or 1, a bad ``X-Forwarded-For``.
    The service answers 400 with this message; nothing was written."""


# grpc-gateway 1.6.4's HTTPStatusFromCode, as etcd 3.4 serves it.
_HTTP_STATUS = {
    0: 200, 1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
    9: 412, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}


def http_status_of(code: int) -> int:
    """The HTTP status etcd's gateway sends for a gRPC status code."""
    return _HTTP_STATUS.get(code, 500)


_CONCURRENCY_REFUSALS = (ElectionNoLeader, ElectionNotLeader, LeaderKeyMissing, LockSessionExpired)


def _all_store_errors() -> dict[str, type[StoreError]]:
    found: dict[str, type[StoreError]] = {}
    pending: list[type[StoreError]] = [StoreError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.default_message.startswith("etcdserver:") or cls in _CONCURRENCY_REFUSALS:
            found[cls.default_message] = cls
    return found


def store_error_from(code: int, message: str) -> StoreError:
    """Rebuild the most specific StoreError from an error body's code and message.

    Used by the client so that a caller can ``except Compacted`` whether the
    server was confagent or a real etcd.
    """
    cls = _all_store_errors().get(message)
    if cls is not None and cls.code == code:
        return cls(message)
    generic: dict[int, type[StoreError]] = {
        3: InvalidArgument, 5: LeaseNotFound, 8: ResourceExhausted, 9: LeaseExists,
        11: OutOfRange, 13: Internal, 14: Unavailable,
    }
    error = generic.get(code, StoreError)(message)
    error.code = code
    return error
