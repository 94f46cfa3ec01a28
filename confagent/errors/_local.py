"""Errors of this process's own parts: the member's life, the client, storage, peers,
configuration, applying files, rendering, backends and metad."""

from __future__ import annotations

from confagent.errors._base import ConfagentError

__all__ = [
    "AmbiguousWrite",
    "ApplyError",
    "BackendError",
    "CacheDiverged",
    "CheckFailed",
    "ClientError",
    "CommandFailed",
    "ConfigError",
    "DataDirInUse",
    "LockLost",
    "MemberFailed",
    "MemberRemoved",
    "MemberStopped",
    "MetadRequestError",
    "PeerError",
    "ReloadDeferred",
    "ReloadFailed",
    "RenderError",
    "ResolveError",
    "ResyncNeeded",
    "SourceFileError",
    "StorageError",
    "UndecodableKey",
]


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
    """The write-ahead log, a snapshot, the data directory or the agent's cache cannot be used."""


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
