"""PrefixCache: the watched prefixes held locally at one revision, kept current from a backend.

Rules:
1. The cache holds every key under its distinct prefixes as one
   ``render.KeyView`` at one revision; ``view`` is always a whole revision.
2. It starts from a snapshot, then applies the backend's changes in order;
   each change costs work in proportion to the change (``with_changes``).
3. A stream that breaks is resumed from the cache's revision after a
   jittered exponential backoff (``CacheConfig.backoff``); a stream that
   lived longer than the longest backoff counts as a success.
4. When the changes are gone (``Compacted``, ``ResyncNeeded``) the cache
   takes a new snapshot at once and reports the keys that differ.
5. Every ``verify_interval_s`` it compares a fresh snapshot with itself, after
   applying the changes up to the snapshot's revision that arrive within
   ``verify_grace_s``; a difference is reported (``CacheDiverged``) and the
   cache takes the fresh snapshot.
6. Nothing is logged here: ``events()`` yields a ``CacheUpdate`` per change
   of the view and a ``CacheTrouble`` per problem, for the agent to log.
   The cache recovers by itself; the iteration ends when the backend closes.
7. An error the source cannot recover from — ``MemberStopped`` — is not
   retried: it ends the cache (``events()`` raises it, the view stays as it
   was).
8. After the backend failed (a ``CacheTrouble`` other than lost changes:
   unreachable, timed out, no leader), the next attempt first reads a snapshot
   (the first load, or a verification as in rule 5, at once): when it answers,
   ``CacheRecovered`` says the backend works again, before the updates it brings.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from confagent.backends._base import Backend, Change, Snapshot
from confagent.backends._feed import ChangeFeed
from confagent.backends._prefixes import distinct_prefixes
from confagent.backoff import Backoff, BackoffPolicy
from confagent.errors import (
    BackendError,
    CacheDiverged,
    Compacted,
    ConfagentError,
    ConfigError,
    MemberStopped,
    ResyncNeeded,
)
from confagent.render import KeyView

__all__ = ["CacheConfig", "CacheEvent", "CacheRecovered", "CacheTrouble", "CacheUpdate", "PrefixCache"]


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """The cache's bounds and periods.

    Attributes:
        backoff: waits between attempts to reach the backend.
        verify_interval_s: how often to compare with a fresh snapshot (0: never).
        verify_grace_s: how long a verification waits for changes already in flight.
        buffered_changes_max: changes read ahead of the consumer before the stream is paused.
    """

    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    verify_interval_s: float = 300.0
    verify_grace_s: float = 2.0
    buffered_changes_max: int = 1024

    def validate(self) -> None:
        if self.verify_interval_s < 0 or self.verify_grace_s < 0:
            raise ConfigError("cache: verify_interval_s and verify_grace_s must be >= 0")
        if self.buffered_changes_max < 1:
            raise ConfigError("cache: buffered_changes_max must be >= 1")


@dataclass(frozen=True, slots=True)
class CacheUpdate:
    """The view changed.

    Attributes:
        view: every cached key at ``view.revision``.
        changed: the keys whose value differs from the previous view (added, updated, removed).
        resynced: the view comes from a new snapshot (the first load, after compaction or
            a verification mismatch), not from one change.
        problems: keys the backend left out (not UTF-8), for the log.
        cluster_id: the cluster the view was read from (its last snapshot's; 0: unknown).
    """

    view: KeyView
    changed: frozenset[str]
    resynced: bool = False
    problems: tuple[BackendError, ...] = ()
    cluster_id: int = 0

    @property
    def revision(self) -> int:
        return self.view.revision


@dataclass(frozen=True, slots=True)
class CacheTrouble:
    """Something went wrong; the cache keeps its view and retries in ``retry_in_s`` (0: now)."""

    error: ConfagentError
    retry_in_s: float


@dataclass(frozen=True, slots=True)
class CacheRecovered:
    """The backend answered again after failing (rule 8).

    Attributes:
        revision: the revision of the snapshot it answered.
        failures: the attempts that failed in a row before.
        down_s: seconds since the first of them.
    """

    revision: int
    failures: int
    down_s: float


CacheEvent = CacheUpdate | CacheTrouble | CacheRecovered


class PrefixCache:
    """The keys under ``prefixes`` from ``backend``, at one revision (module rules).

    Args:
        backend: where the keys come from; not closed by the cache.
        prefixes: key prefixes; overlapping ones are merged ('/a' covers '/a/b').
        config: bounds and periods.
        rng: jitter for the backoff (seed it in tests).
        clock: monotonic seconds.
    """

    def __init__(self, backend: Backend, prefixes: Sequence[str], config: CacheConfig | None = None,
                 *, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or CacheConfig()
        self.config.validate()
        self.backend = backend
        self.prefixes = distinct_prefixes(prefixes)
        if not self.prefixes:
            raise ConfigError("cache: at least one prefix is needed")
        self._backoff = Backoff(self.config.backoff, rng or random.Random())
        self._clock = clock
        self._view = KeyView()
        self._cluster_id = 0
        self._loaded = False
        self._failing_since: float | None = None
        """When the first of the failures in a row happened (rule 8); None while the backend answers."""
        self._failures = 0

    @property
    def view(self) -> KeyView:
        """Every cached key at one revision (empty at revision 0 before the first snapshot)."""
        return self._view

    @property
    def loaded(self) -> bool:
        """True once a snapshot was taken and until the changes after it are lost."""
        return self._loaded

    async def events(self) -> AsyncGenerator[CacheEvent, None]:
        """Keep the cache current; yield each view change and each problem (module rules).

        The first ``CacheUpdate`` is the first snapshot (``resynced``, every key
        ``changed``). Iterate inside ``contextlib.aclosing`` to stop early.

        Raises:
            MemberStopped: the backend's store member was removed from its cluster, or failed (rule 7).
        """
        while True:
            attempt_started = self._clock()
            try:
                if not self._loaded:
                    snapshot = await self.backend.snapshot(self.prefixes)
                    if self._failing_since is not None:
                        yield self._recovered(snapshot.revision)
                    yield self._resync(snapshot)
                async for event in self._follow():
                    yield event
                return  # the backend was closed
            except MemberStopped:
                raise  # rule 7: nothing to come back to
            except (Compacted, ResyncNeeded) as error:
                self._loaded = False
                trouble = CacheTrouble(error, self._backoff.next_delay_s(first_free=True))
            except ConfagentError as error:
                if self._clock() - attempt_started >= self.config.backoff.max_s:
                    self._backoff.reset()  # rule 3: a long-lived stream was a success
                trouble = CacheTrouble(error, self._backoff.next_delay_s())
                self._failures += 1
                if self._failing_since is None:
                    self._failing_since = attempt_started
            yield trouble
            if trouble.retry_in_s:
                await asyncio.sleep(trouble.retry_in_s)

    async def _follow(self) -> AsyncGenerator[CacheEvent, None]:
        """Apply the backend's changes from the view's revision on; verify now and then.

        Ends when the backend's stream ends (the backend was closed); raises its errors.
        """
        config = self.config
        feed = self._feed()
        try:
            verify_at = self._clock() + config.verify_interval_s
            while True:
                if self._failing_since is not None:
                    timeout_s: float | None = 0.0  # rule 8: verify at once
                elif config.verify_interval_s:
                    timeout_s = max(0.0, verify_at - self._clock())
                else:
                    timeout_s = None
                if not await feed.wait(timeout_s):
                    revision, events, diverged = await self._verify(feed)
                    if self._failing_since is not None:
                        yield self._recovered(revision)
                    for event in events:
                        yield event
                    if diverged:  # the view is the fresh snapshot now: follow from its revision
                        await feed.close()
                        feed = self._feed()
                    verify_at = self._clock() + config.verify_interval_s
                    continue
                if not feed.check():
                    return
                update = self._apply(feed.take())
                self._backoff.reset()
                if update is not None:
                    yield update
        finally:
            await feed.close()

    def _feed(self) -> ChangeFeed:
        return ChangeFeed(self.backend, self.prefixes, self._view.revision,
                          self.config.buffered_changes_max)

    async def _verify(self, feed: ChangeFeed) -> tuple[int, list[CacheEvent], bool]:
        """Compare with a fresh snapshot (rule 5): its revision, the events to report, and whether
        the cache diverged."""
        fresh = await self.backend.snapshot(self.prefixes)
        events: list[CacheEvent] = []
        deadline = self._clock() + self.config.verify_grace_s
        while True:
            while (head := feed.peek()) is not None and head.revision <= fresh.revision:
                update = self._apply(feed.take())
                if update is not None:
                    events.append(update)
            if _same_entries(self._view, fresh.entries):
                return fresh.revision, events, False
            remaining_s = deadline - self._clock()
            if feed.peek() is not None or feed.ended or remaining_s <= 0:
                break
            await feed.wait(remaining_s)
        differing = _differing(self._view, fresh.entries)
        problem = CacheDiverged(f"the cache at revision {self._view.revision} differs from a fresh "
                                f"snapshot at revision {fresh.revision} in {len(differing)} keys, "
                                f"e.g. {sorted(differing)[:5]}; resynced")
        events += [CacheTrouble(problem, 0.0), self._resync(fresh)]
        return fresh.revision, events, True

    def _recovered(self, revision: int) -> CacheRecovered:
        """The backend answered a snapshot after failing (rule 8); the failures are forgotten."""
        assert self._failing_since is not None, "recovered only after a failure"
        recovered = CacheRecovered(revision, self._failures, self._clock() - self._failing_since)
        self._failing_since, self._failures = None, 0
        return recovered

    def _apply(self, change: Change) -> CacheUpdate | None:
        """Apply one change; the update, or None when no value changed."""
        view = self._view
        assert change.revision > view.revision, (change.revision, view.revision)
        changed = {k for k, v in change.puts.items() if view.get(k) != v}
        changed.update(k for k in change.deletes if k in view)
        self._view = view.with_changes(change.puts, change.deletes, change.revision)
        if not changed and not change.problems:
            return None
        return CacheUpdate(self._view, frozenset(changed), problems=change.problems,
                           cluster_id=self._cluster_id)

    def _resync(self, snapshot: Snapshot) -> CacheUpdate:
        """Replace the view by ``snapshot``; the update naming every key that differs."""
        changed = _differing(self._view, snapshot.entries)
        self._view = KeyView(snapshot.entries, snapshot.revision)
        self._cluster_id = snapshot.cluster_id
        self._loaded = True
        return CacheUpdate(self._view, changed, resynced=True, problems=snapshot.problems,
                           cluster_id=snapshot.cluster_id)


def _same_entries(view: KeyView, entries: Mapping[str, str]) -> bool:
    return len(view) == len(entries) and all(entries.get(k) == v for k, v in view.items())


def _differing(view: Mapping[str, str], entries: Mapping[str, str]) -> frozenset[str]:
    keys = view.keys() | entries.keys()
    return frozenset(k for k in keys if view.get(k) != entries.get(k))
