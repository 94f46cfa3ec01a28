"""StoreError and its kinds: etcd v3 API errors (gRPC code and etcd's literal message),
and the codes' HTTP statuses and the client's rebuilding of an error from a body."""

from __future__ import annotations

import copy
from typing import Self

from confagent.errors._base import ConfagentError

__all__ = [
    "BadLeaderTransferee",
    "Compacted",
    "ConcurrencyError",
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
    "LeaseExists",
    "LeaseNotFound",
    "LeaseProvided",
    "LeaseTTLTooLarge",
    "LockSessionExpired",
    "NoLeader",
    "NotLeader",
    "NotSupportedForLearner",
    "OutOfRange",
    "RequestTooLarge",
    "ResourceExhausted",
    "Stopped",
    "StoreError",
    "TooManyOps",
    "Unavailable",
    "UnhealthyCluster",
    "ValueProvided",
    "http_status_of",
    "store_error_from",
]


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

    def with_context(self, context: str) -> Self:
        """This error again, its text followed by ``context`` (whom or what it concerned), its
        ``message`` and ``code`` still what the server said (a CLI printing etcd's words reads them)."""
        again = copy.copy(self)
        again.args = (f"{self.message}{context}",)
        return again


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
