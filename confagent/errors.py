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
    │   ├── Unavailable            code 14 (NoLeader, RequestTimeout, Stopped)
    │   └── Internal               code 13
    ├── ClientError                the client could not get an answer (all endpoints failed)
    │   └── AmbiguousWrite         a write may or may not have been applied: never retried
    ├── StorageError               the write-ahead log or a snapshot is unreadable or unwritable
    ├── ConfigError                a bad flag, file or field; names the file and the key
    ├── RenderError                a template could not be rendered; names the template, line and key
    └── ResolveError               a host name or SRV record could not be resolved (render's DNS helpers)
"""

from __future__ import annotations

__all__ = [
    "AmbiguousWrite",
    "ClientError",
    "Compacted",
    "ConfagentError",
    "ConfigError",
    "DuplicateKey",
    "FutureRevision",
    "Internal",
    "InvalidArgument",
    "KeyNotFound",
    "KeyNotProvided",
    "LeaseExists",
    "LeaseNotFound",
    "LeaseProvided",
    "LeaseTTLTooLarge",
    "NoLeader",
    "OutOfRange",
    "RenderError",
    "RequestTooLarge",
    "ResolveError",
    "ResourceExhausted",
    "StorageError",
    "StoreError",
    "TooManyOps",
    "Unavailable",
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


class Internal(StoreError):
    code = 13
    default_message = "etcdserver: internal error"


class ClientError(ConfagentError):
    """No endpoint gave an answer (connection refused, timeouts, TLS failures)."""


class AmbiguousWrite(ClientError):
    """A write was sent but its outcome is unknown; it is never retried blindly."""


class StorageError(ConfagentError):
    """The write-ahead log, a snapshot or the data directory cannot be used."""


class ConfigError(ConfagentError):
    """A bad command-line flag, configuration file or field."""


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


# grpc-gateway 1.6.4's HTTPStatusFromCode, as etcd 3.4 serves it.
_HTTP_STATUS = {
    0: 200, 1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
    9: 412, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}


def http_status_of(code: int) -> int:
    """The HTTP status etcd's gateway sends for a gRPC status code."""
    return _HTTP_STATUS.get(code, 500)


def _all_store_errors() -> dict[str, type[StoreError]]:
    found: dict[str, type[StoreError]] = {}
    pending: list[type[StoreError]] = [StoreError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.default_message.startswith("etcdserver:"):
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
