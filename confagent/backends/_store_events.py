"""From the store's bytes to the backend interface's strings: key-values into a Snapshot, events into Changes.

Shared by the ``etcd`` and ``embedded`` backends, which read the same
``KeyValue`` and ``Event`` messages. A key or value that is not UTF-8 is left
out with an :class:`~confagent.errors.UndecodableKey` in ``problems``; a put
of an undecodable value deletes the key, so the cache never keeps a stale one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from confagent.backends._base import Change, Snapshot
from confagent.errors import BackendError, UndecodableKey

if TYPE_CHECKING:
    from confagent.kv import Event
    from confagent.wire import KeyValueBytes

__all__ = ["changes_of_events", "snapshot_of", "snapshot_of_pairs"]

_KEY_VALUE = attrgetter("key", "value")


def snapshot_of(revision: int, kvs: Sequence[KeyValueBytes], cluster_id: int = 0) -> Snapshot:
    """A snapshot at ``revision`` of ``cluster_id`` holding the decodable ``kvs`` (``kv.KeyValue`` or
    protobuf's messages)."""
    try:
        entries = {kv.key.decode(): kv.value.decode() for kv in kvs}
    except UnicodeDecodeError:
        return _sorted_out(revision, map(_KEY_VALUE, kvs), cluster_id)
    return Snapshot(revision, entries, (), cluster_id)


def snapshot_of_pairs(revision: int, pairs: Sequence[tuple[bytes, bytes]], cluster_id: int = 0) -> Snapshot:
    """``snapshot_of`` the ``(key, value)`` pairs ``pairs``."""
    try:
        entries = {key.decode(): value.decode() for key, value in pairs}
    except UnicodeDecodeError:
        return _sorted_out(revision, pairs, cluster_id)
    return Snapshot(revision, entries, (), cluster_id)


def _sorted_out(revision: int, pairs: Iterable[tuple[bytes, bytes]], cluster_id: int) -> Snapshot:
    """The snapshot of the decodable pairs, each undecodable one named in ``problems`` (the module doc);
    one decoding per pair, the fast path's in a comprehension having met one that is not UTF-8."""
    entries: dict[str, str] = {}
    problems: list[BackendError] = []
    for key_bytes, value_bytes in pairs:
        try:
            key = key_bytes.decode()
        except UnicodeDecodeError:
            problems.append(UndecodableKey(key_bytes))
            continue
        try:
            entries[key] = value_bytes.decode()
        except UnicodeDecodeError:
            problems.append(UndecodableKey(key_bytes, "value"))
    return Snapshot(revision, entries, tuple(problems), cluster_id)


def changes_of_events(events: Iterable[Event], covers: Callable[[str], bool]) -> Iterator[Change]:
    """One Change per revision of ``events`` (in revision order), keeping only keys ``covers`` accepts.

    A revision whose events are all filtered out gives no Change.
    """
    batch: list[Event] = []
    for event in events:
        if batch and event.kv.mod_revision != batch[0].kv.mod_revision:
            change = _change_of_revision(batch, covers)
            if change is not None:
                yield change
            batch = []
        batch.append(event)
    if batch:
        change = _change_of_revision(batch, covers)
        if change is not None:
            yield change


def _change_of_revision(events: list[Event], covers: Callable[[str], bool]) -> Change | None:
    from confagent.kv import EventType  # noqa: PLC0415 - a one-shot's snapshot loads no message type

    puts: dict[str, str] = {}
    deletes: set[str] = set()
    problems: list[BackendError] = []
    for event in events:
        try:
            key = event.kv.key.decode()
        except UnicodeDecodeError:
            problems.append(UndecodableKey(event.kv.key))
            continue
        if not covers(key):
            continue
        value: str | None = None
        if event.type == EventType.PUT:
            try:
                value = event.kv.value.decode()
            except UnicodeDecodeError:
                problems.append(UndecodableKey(event.kv.key, "value"))
        if value is None:
            puts.pop(key, None)
            deletes.add(key)
        else:
            deletes.discard(key)
            puts[key] = value
    if not puts and not deletes and not problems:
        return None
    return Change(events[0].kv.mod_revision, puts, frozenset(deletes), tuple(problems))
