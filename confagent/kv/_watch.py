"""WatchHub: which watchers see which changes, and catching up the ones that fell behind.

etcd's synced/unsynced design, without I/O:

1. A *synced* watcher gets each change as it is applied (``on_applied``).
   A watcher from revision 0 starts synced at ``revision + 1``; one from a
   future revision starts synced too and sees nothing before its start.
2. An *unsynced* watcher is read from the store's history (``catch_up``) in
   bounded batches until it reaches the current revision, then becomes
   synced. A watcher from a past revision starts unsynced; so does one the
   I/O layer could not deliver to (``mark_unsynced``). An unsynced watcher
   holds no events, only the revision it needs next: memory stays bounded.
3. A watcher that needs a compacted revision is canceled, with the
   compaction's revision (``CatchUp.compact_revision``).
4. Matching costs one dict lookup per event for single-key watchers, one per
   distinct prefix length for prefix watchers (``range_end`` is the prefix's
   end), and a scan of the distinct other ranges.
5. NOPUT/NODELETE filters are applied; ``prev_kv`` is dropped unless asked
   for; a watcher whose events were all filtered out gets no delivery.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from confagent.errors import Compacted
from confagent.kv._keys import FROM_KEY, prefix_end
from confagent.kv._messages import Event, EventType, WatchCreateRequest
from confagent.kv._store import KvStore

__all__ = ["CatchUp", "WatchHub", "Watcher"]

MAX_CATCH_UP_REVISIONS = 10_000
"""Revisions of history one ``catch_up`` call reads at most, matching or not."""


@dataclass(eq=False, slots=True)
class Watcher:
    """One watch: its request, and where its next events start.

    ``id`` is unique in the hub; the stream's own ``watch_id`` is the server's.
    ``next_revision`` is exact for an unsynced watcher (the first revision it
    has not been given); a synced one sees every change as it is applied, and
    its ``next_revision`` only moves when it gets a delivery.
    """

    id: int
    spec: WatchCreateRequest
    next_revision: int
    synced: bool = True


@dataclass(frozen=True, slots=True)
class CatchUp:
    """One batch of history for an unsynced watcher.

    Attributes:
        events: matching events, whole revisions, oldest first.
        compact_revision: nonzero when the watcher needed a compacted revision;
            it is then removed from the hub and must be canceled with it.
        synced: the watcher reached the current revision and is synced again.
    """

    events: tuple[Event, ...]
    compact_revision: int = 0
    synced: bool = False


_Group = dict[int, Watcher]
_K = TypeVar("_K")


class WatchHub:
    """Every watcher of one store, synced ones indexed by what they watch."""

    def __init__(self, store: KvStore) -> None:
        self._store = store
        self._ids = itertools.count(1)
        self._exact: dict[bytes, _Group] = {}
        self._prefixes: dict[bytes, _Group] = {}
        self._prefix_lengths: dict[int, int] = {}  # length -> how many distinct prefixes
        self._ranges: dict[tuple[bytes, bytes], _Group] = {}
        self._unsynced: _Group = {}
        self._applied_revision = store.revision

    def create(self, spec: WatchCreateRequest) -> Watcher:
        """A new watcher: synced from now (or a future start), unsynced from a past one."""
        current = self._store.revision
        start = spec.start_revision
        watcher = Watcher(next(self._ids), spec, max(start, current + 1))
        if 0 < start <= current:
            watcher.next_revision, watcher.synced = start, False
            self._unsynced[watcher.id] = watcher
        else:
            self._add_synced(watcher)
        return watcher

    def cancel(self, watcher: Watcher) -> None:
        """Forget ``watcher``; canceling it twice is harmless."""
        if watcher.synced:
            self._remove_synced(watcher)
        else:
            self._unsynced.pop(watcher.id, None)

    def unsynced(self) -> list[Watcher]:
        return list(self._unsynced.values())

    # -- live changes -------------------------------------------------------------
    def on_applied(self, revision: int,
                   events: tuple[Event, ...]) -> list[tuple[Watcher, tuple[Event, ...]]]:
        """The deliveries of one applied revision to synced watchers, in watcher order."""
        self._applied_revision = revision
        matched: dict[Watcher, list[Event]] = {}
        for event in events:
            for group in self._groups_of(event.kv.key):
                for watcher in group.values():
                    if watcher in matched:
                        matched[watcher].append(event)
                    elif revision >= watcher.next_revision:
                        matched[watcher] = [event]
        deliveries = []
        stripped: dict[int, Event] = {}
        for watcher, found in matched.items():
            kept = _filtered(watcher.spec, found, stripped)
            if kept:
                watcher.next_revision = revision + 1
                deliveries.append((watcher, kept))
        return deliveries

    def mark_unsynced(self, watcher: Watcher) -> None:
        """The delivery ``on_applied`` just returned for ``watcher`` was not queued.

        The watcher rewinds to that revision and will be caught up from history.
        """
        if not watcher.synced:
            return
        self._remove_synced(watcher)
        watcher.synced = False
        watcher.next_revision = max(self._applied_revision, watcher.spec.start_revision)
        self._unsynced[watcher.id] = watcher

    # -- history ---------------------------------------------------------------------
    def catch_up(self, watcher: Watcher, max_events: int) -> CatchUp:
        """The next batch of history for an unsynced watcher.

        Whole revisions are returned, at least one with matching events when
        there is one, then more while the total stays within ``max_events``;
        at most ``MAX_CATCH_UP_REVISIONS`` revisions are read per call.
        """
        if watcher.synced:
            return CatchUp((), synced=True)
        store, spec = self._store, watcher.spec
        try:
            history = store.history(watcher.next_revision, prev_kv=spec.prev_kv)
        except Compacted:
            self.cancel(watcher)
            return CatchUp((), compact_revision=store.compact_revision)
        found: list[Event] = []
        stripped: dict[int, Event] = {}
        for scanned, (revision, events) in enumerate(history):
            matching = [e for e in events if _covers(spec, e.kv.key)]
            kept = _filtered(spec, matching, stripped) if matching else ()
            if scanned == MAX_CATCH_UP_REVISIONS or (found and len(found) + len(kept) > max_events):
                break
            found.extend(kept)
            watcher.next_revision = revision + 1
        else:  # read up to the current revision: live from now on
            self._unsynced.pop(watcher.id, None)
            watcher.synced = True
            watcher.next_revision = max(store.revision + 1, spec.start_revision)
            self._add_synced(watcher)
        return CatchUp(tuple(found), synced=watcher.synced)

    # -- the index of synced watchers ---------------------------------------------------
    def _groups_of(self, key: bytes) -> Iterable[_Group]:
        group = self._exact.get(key)
        if group is not None:
            yield group
        for length in self._prefix_lengths:
            if len(key) >= length:
                group = self._prefixes.get(key[:length])
                if group is not None:
                    yield group
        for (start, end), group in self._ranges.items():
            if start <= key and (end == FROM_KEY or key < end):
                yield group

    def _slot(self, spec: WatchCreateRequest) -> tuple[dict[bytes, _Group], bytes] | None:
        """Where a watcher is indexed: (exact or prefix table, its key), None for a range."""
        if not spec.range_end:
            return self._exact, spec.key
        if spec.key and spec.range_end != FROM_KEY and spec.range_end == prefix_end(spec.key):
            return self._prefixes, spec.key
        return None

    def _add_synced(self, watcher: Watcher) -> None:
        spec = watcher.spec
        slot = self._slot(spec)
        if slot is None:
            self._ranges.setdefault((spec.key, spec.range_end), {})[watcher.id] = watcher
            return
        table, key = slot
        if table is self._prefixes and key not in table:
            self._prefix_lengths[len(key)] = self._prefix_lengths.get(len(key), 0) + 1
        table.setdefault(key, {})[watcher.id] = watcher

    def _remove_synced(self, watcher: Watcher) -> None:
        spec = watcher.spec
        slot = self._slot(spec)
        if slot is None:
            _discard(self._ranges, (spec.key, spec.range_end), watcher)
            return
        table, key = slot
        if _discard(table, key, watcher) and table is self._prefixes:
            remaining = self._prefix_lengths.pop(len(key)) - 1
            if remaining:
                self._prefix_lengths[len(key)] = remaining


def _discard(table: dict[_K, _Group], key: _K, watcher: Watcher) -> bool:
    """Remove ``watcher`` from ``table[key]``; True when that emptied and dropped the group."""
    group = table.get(key)
    if group is None or group.pop(watcher.id, None) is None or group:
        return False
    del table[key]
    return True


def _covers(spec: WatchCreateRequest, key: bytes) -> bool:
    end = spec.range_end
    if not end:
        return key == spec.key
    return spec.key <= key and (end == FROM_KEY or key < end)


def _filtered(spec: WatchCreateRequest, events: list[Event],
              stripped: dict[int, Event]) -> tuple[Event, ...]:
    """``events`` without the filtered kinds, without ``prev_kv`` unless asked for.

    ``stripped`` shares the copies without ``prev_kv`` between watchers.
    """
    if spec.no_put or spec.no_delete:
        events = [e for e in events
                  if not (spec.no_put if e.type == EventType.PUT else spec.no_delete)]
    if spec.prev_kv:
        return tuple(events)
    return tuple(_without_prev(e, stripped) for e in events)


def _without_prev(event: Event, stripped: dict[int, Event]) -> Event:
    if event.prev_kv is None:
        return event
    copy = stripped.get(id(event))
    if copy is None:
        copy = stripped[id(event)] = Event(event.type, event.kv)
    return copy
