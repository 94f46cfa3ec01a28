"""The one interface every backend offers: a consistent snapshot of some prefixes, then the changes after it.

Rules every backend keeps (the conformance suite in ``tests/backends`` checks them):

1. ``snapshot(prefixes)`` reads every key that starts with one of the prefixes
   (a plain string prefix, as etcd's ``--prefix``: ``/a`` holds ``/a/x`` and
   ``/ab``) at ONE revision, and says which.
2. ``changes(prefixes, after)`` yields what changed under the prefixes after
   revision ``after``: one :class:`Change` per revision that touched them, in
   revision order, every change of that revision in it. It raises
   :class:`~confagent.errors.Compacted` or
   :class:`~confagent.errors.ResyncNeeded` when those changes are gone (the
   caller takes a new snapshot), any other
   :class:`~confagent.errors.ConfagentError` when the source is unreachable
   (the caller resumes from the last revision it saw) except as rule 5 says,
   and simply ends when the backend is closed.
3. Keys are ``str`` paths (``/services/web/a``). A store key or value that is
   not UTF-8 is left out and reported in ``problems``, never a crash.
4. Revisions are the store's for ``etcd`` and ``embedded``, a counter of the
   backend's own for ``file`` and ``env`` (1 for the first read).
5. An error the source cannot recover from — :class:`~confagent.errors.MemberStopped`
   (the embedded store's member was removed from its cluster, or failed) — is not
   retried: ``snapshot`` and ``changes`` raise it from then on, and the
   caller stops.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from confagent.errors import BackendError

__all__ = ["Backend", "Change", "Snapshot"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every key under the requested prefixes at ``revision``.

    Attributes:
        revision: the one revision all ``entries`` were read at.
        entries: key path -> value.
        problems: keys left out, with why (for the caller to log).
        cluster_id: the cluster it was read from, for the ``etcd`` and ``embedded`` backends (etcd's
            response header's); 0 where the source has none.
    """

    revision: int
    entries: Mapping[str, str]
    problems: tuple[BackendError, ...] = field(default=(), compare=False)
    cluster_id: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        assert self.revision >= 0, f"a snapshot revision is >= 0, got {self.revision}"


@dataclass(frozen=True, slots=True)
class Change:
    """What one revision changed under the watched prefixes.

    Attributes:
        revision: the revision of every change here.
        puts: keys written (created or updated) -> their new value.
        deletes: keys removed; never also in ``puts``.
        problems: keys left out, with why (a put of a value that is not UTF-8
            is reported here and the key is deleted, so no stale value stays).
    """

    revision: int
    puts: Mapping[str, str]
    deletes: frozenset[str]
    problems: tuple[BackendError, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        assert self.revision > 0, f"a change revision is > 0, got {self.revision}"
        assert self.deletes.isdisjoint(self.puts), f"put and deleted at once: {self.deletes & set(self.puts)}"

    @property
    def keys(self) -> frozenset[str]:
        """Every key this change touches."""
        return self.deletes.union(self.puts)


class Backend(Protocol):
    """A source of keys and values (see the module rules).

    Attributes:
        name: the backend's name in configuration (``etcd``, ``embedded``, ``file``, ``env``).
        watches: False when ``changes`` never yields (``env``): the caller polls
            with ``snapshot`` if it wants to notice anything.
    """

    name: str
    watches: bool

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        """Every key under ``prefixes`` at one revision.

        Raises:
            MemberStopped: the source is gone for good (rule 5).
            ConfagentError: the source cannot be read (unreachable, a broken file).
        """
        ...

    def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """The changes under ``prefixes`` after revision ``after``, one per revision, in order.

        An async generator, so that a caller leaving early closes it at once
        (``contextlib.aclosing``) and the watch behind it with it.

        Raises:
            Compacted, ResyncNeeded: the changes after ``after`` are gone.
            MemberStopped: the source is gone for good (rule 5); do not resume.
            ConfagentError: the source became unreachable; resume from the last revision seen.
        """
        ...

    async def close(self) -> None:
        """Release connections, watches and the embedded store; ``changes`` iterators end."""
        ...
