"""``Daemon``: the long-running agent — follow the store, render what a change affects, apply, repeat.

Rules:
1. One task owns the state (the scheduler loop); the cache follower only
   records the newest view and marks affected resources in the ``Debouncer``.
2. A change marks a resource when a key it read changed (``Reads.affected_by``);
   a resource that has not rendered successfully yet, or failed last time,
   is marked by any change under its keys, so it is retried. A resync (the
   first load, compaction, a verification mismatch) marks every resource.
3. Each due batch renders from the newest view (one revision) and is applied
   in one batch; a batch in flight always finishes, even when stopping.
4. Every ``interval`` a full pass renders everything: with ``watch`` it
   restores destinations changed behind the agent's back and retries
   failures; without ``watch`` it is the only source of changes (a snapshot
   per tick, confd's interval mode).
5. SIGTERM and SIGINT stop after the batch in flight (its commands bounded by
   each resource's ``timeout``), the daemon's own tasks ended within
   ``TASK_STOP_S`` (``confagent.tasks``); SIGHUP reloads the
   configuration and resources; a configuration that does not load keeps the
   running one (logged). Backend settings and modes take effect at restart.
   With ``hot_reload``, a change under ``conf.d`` or ``templates`` reloads
   the same way (``watch_config``). A backend error that is not retried
   (``MemberStopped``: the embedded store's member was removed from its
   cluster, or failed; the backend contract's rule 5) stops the daemon as SIGTERM does,
   after the batch in flight, every file left as it is; ``serve`` logs it
   in one line and raises it (``confagent run`` exits 1 with its message).
   Without ``watch`` it is seen at the next interval's snapshot.
6. Everything observable goes to the ``StatusBoard`` (passes, revisions,
   backend trouble, the resource set), to the log (backend trouble; once a
   failing backend answers again, "backend recovered") and to systemd
   (``SystemdNotifier``):
   READY=1 once every resource has had a pass, RELOADING=1 and READY=1
   around each reload after that, STOPPING=1 on stop, WATCHDOG=1 while serving.
7. Once every resource has had a pass, what is alive then (configuration,
   compiled templates, the cache, the embedded store's index) lives as long
   as the process: it is collected once and frozen out of the garbage
   collector's sight (``gc.freeze``), so that a full collection, which would
   scan all of it, does not pause a later render for tens of milliseconds.
8. With no resource to render (every one in ``conf.d`` broken: ``Setup.idle``)
   the daemon reads nothing and keeps running: it says so in one line
   (``IDLE``) when it starts or reloads into that state, tells systemd it is
   ready, and the next reload (``conf.d`` is watched; SIGHUP) that loads a
   resource follows the store again.
9. Resources with a ``reload_lock`` reload inside a slot of the store's
   semaphore (``StoreReloadSlots``, made when a loaded resource first asks
   for one, closed when the daemon ends); a resource deferred for want of a
   slot is tried again ``RELOAD_RETRY_S`` later, and stopping ends the waits
   for slots at once.
10. With ``[history] enabled`` (the default), the render history's recorder
    (``confagent.history``) is opened, its writer process started, when
    ``serve`` starts, put on the ``StatusBoard`` (which hands it each pass's
    outcomes and view) and closed when ``serve`` ends, after what was
    submitted is written.
11. Offline start (``confagent.agent._saved_view``): with the ``etcd`` or
    ``embedded`` backend, each view a pass rendered from is saved to the
    agent's durable cache (debounced, and on stop). When the backend's first
    read fails and the daemon has no view yet, it loads that cache and, if
    it fits (the backend, its nodes, the embedded member's cluster, the
    prefixes), renders from it: a missing file is written with its check and
    reload, a file that exists is left as it is (``_sync`` rule 7: it may be
    newer than the cache; one that differs is logged ``held``), logs ``stale: rendering from the agent's
    cache`` with its revision and tells the board it is stale. A cache that
    does not fit or does not read is logged and not used. The first view
    the backend gives replaces it (every resource marked), ending the stale
    state. The cache is tried once per start.
12. With ``[fleet] publish``, a ``FleetPublisher`` (``confagent.agent._fleet``)
    follows the board in a helper task from ``serve``'s start, writing the
    agent's summary under ``/confagent/fleet/``; it is closed (its lease
    revoked) when ``serve`` ends. It never holds up a pass. The board is told
    which revisions changed keys outside ``/confagent/fleet/``
    (``keys_changed``: a change touching one, a resync, a polled snapshot
    whose keys differ, compared only while the agent publishes), the
    revisions hosts are compared on, with the digest of the view's keys
    (``ViewDigest``) while the agent publishes.
"""

from __future__ import annotations

import asyncio
import gc
import math
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import aclosing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import structlog

from confagent.agent._debounce import Debouncer
from confagent.agent._hotreload import watch_config
from confagent.agent._notify import SystemdNotifier
from confagent.agent._saved_view import (
    SAVED_VIEW_FILE,
    SavedView,
    ViewSaver,
    check_saved_view,
    load_saved_view,
)
from confagent.agent._setup import ConfigSource, Setup, keep_running, load_setup, log_resource_errors
from confagent.agent._status import FLEET_PREFIX, NO_RESOURCE, StatusBoard
from confagent.agent._sync import Outcome, SyncOptions, log_outcome, sync_resources
from confagent.agent._view_digest import ViewDigest
from confagent.backends import Backend, CacheRecovered, CacheTrouble, CacheUpdate, PrefixCache
from confagent.config import LoadedResource
from confagent.errors import ConfagentError, ConfigError, MemberStopped, ReloadDeferred, StorageError
from confagent.render import Host, KeyView, Reads
from confagent.resource import Wait
from confagent.tasks import cancel_and_wait

if TYPE_CHECKING:
    from confagent.agent._fleet import FleetPublisher
    from confagent.agent._reload_slots import StoreReloadSlots
    from confagent.history import HistoryRecorder

__all__ = ["IDLE", "RELOAD_RETRY_S", "SAVED_VIEW_BACKENDS", "Daemon"]

IDLE = "no resource to render; waiting for conf.d to be fixed"
"""Logged once each time the daemon starts or reloads with no resource (rule 8)."""
RELOAD_RETRY_S = 5.0
"""How long after a reload deferred for want of a slot its resource is tried again (rule 9)."""
SAVED_VIEW_BACKENDS = ("embedded", "etcd")
"""The backends whose views are saved for an offline start (rule 11)."""

Logger = structlog.typing.FilteringBoundLogger


class Daemon:
    """The watch (or interval) loop over one open backend (module rules)."""

    def __init__(self, setup: Setup, backend: Backend, source: ConfigSource, host: Host, *,
                 out: TextIO, log: Logger, clock: Callable[[], float] = time.monotonic,
                 status: StatusBoard | None = None, notifier: SystemdNotifier | None = None,
                 hot_reload: bool = True) -> None:
        self.setup = setup
        self.backend = backend
        self._source = source
        self._host = host
        self._out = out
        self._log = log
        self._clock = clock
        self._view: KeyView | None = None
        self._reads: dict[str, Reads | None] = {}
        self._debouncer = Debouncer()
        self._wake = asyncio.Event()
        self._stopping = False
        self._reload_requested = False
        self._follower: asyncio.Task[None] | None = None
        self._failed_ticks: tuple[float, int] | None = None
        """Without ``watch``: when the first of the snapshots failing in a row was taken, and how many."""
        self.status = status or StatusBoard()
        self.status.set_resources(_names_and_dests(setup))
        self._notifier = notifier or SystemdNotifier()
        self._hot_reload = hot_reload
        self._ready = False
        self._stopped = asyncio.Event()
        self._reload_slots: StoreReloadSlots | None = None
        self._cluster_id = 0
        """The cluster the newest view came from (0: unknown)."""
        self._saved: SavedView | None = None
        """The agent's cache while the view comes from it (rule 11)."""
        self._cache_tried = False
        self._saver = (ViewSaver(self._saved_view_path, log) if backend.name in SAVED_VIEW_BACKENDS
                       else None)
        self.watching = setup.config.run.watch and backend.watches
        """Follow the backend's changes (else poll it every interval); fixed at start."""
        self.passes = 0
        self._digest = ViewDigest() if setup.config.fleet.publish else None
        """The digest of the view's keys, kept while the agent publishes its summary (rule 12)."""

    @property
    def revision(self) -> int:
        """The revision of the newest view (0 before the first)."""
        return 0 if self._view is None else self._view.revision

    @property
    def pending(self) -> int:
        """How many resources wait for their quiescence window to render."""
        return len(self._debouncer)

    def stop(self) -> None:
        """Stop after the batch in flight."""
        if not self._stopping:
            self._notifier.stopping()
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        if self._reload_slots is not None:
            self._reload_slots.stop_waiting()

    def request_reload(self) -> None:
        """Reload the configuration and resources before the next batch."""
        self._reload_requested = True
        self._wake.set()

    async def serve(self) -> None:
        """Run until ``stop`` (or a signal), or until the backend closes.

        Raises:
            MemberStopped: the backend cannot go on (rule 5), logged here once.
        """
        loop = asyncio.get_running_loop()
        handlers = {signal.SIGTERM: self.stop, signal.SIGINT: self.stop, signal.SIGHUP: self.request_reload}
        for signum, handler in handlers.items():
            loop.add_signal_handler(signum, handler)
        helpers = [asyncio.create_task(self._notifier.watchdog(), name="confagent-watchdog")]
        if self._hot_reload:
            helpers.append(asyncio.create_task(
                watch_config(self.setup.config.run.confdir, self.request_reload, self._stopped),
                name="confagent-hot-reload"))
        history = self.status.history = self._open_history()
        fleet = self._open_fleet()
        if fleet is not None:
            helpers.append(asyncio.create_task(fleet.follow(self.status), name="confagent-fleet"))
        try:
            if self.setup.idle:
                self._say_idle()
            if self.watching:
                self._start_follower()
            await self._schedule()
        except ConfagentError as error:
            self.status.backend_failed(str(error))
            self._log.error("stopping: the backend cannot go on", backend=self.backend.name, cause=str(error))
            raise
        finally:
            for signum in handlers:
                loop.remove_signal_handler(signum)
            if not self._stopping:  # the backend closed, or the follower failed
                self._notifier.stopping()
            self._stopped.set()
            follower, self._follower = self._follower, None
            await self._end_tasks([*helpers, *([follower] if follower else [])])
            slots, self._reload_slots = self._reload_slots, None
            if slots is not None:
                await slots.close()
            if history is not None:
                await history.aclose()
            if fleet is not None:
                await fleet.close()
            if self._saver is not None:
                await self._saver.flush()

    def _open_history(self) -> HistoryRecorder | None:
        """The render history's recorder (rule 10); None when it is off."""
        config = self.setup.config
        if not config.history.enabled:
            return None
        from confagent.history import HistoryRecorder  # noqa: PLC0415 - sqlite3 only for the daemon

        recorder = HistoryRecorder(config.history, config.history_path, log=self._log)
        recorder.start()  # its writer's start-up before the first apply, not during the next ones
        return recorder

    def _open_fleet(self) -> FleetPublisher | None:
        """The fleet view's publisher (rule 12); None when the agent does not publish."""
        config = self.setup.config
        if not config.fleet.publish:
            return None
        from confagent.agent._fleet import FleetPublisher  # noqa: PLC0415 - only when publishing

        publisher = FleetPublisher.for_backend(self.backend, config, self._log)
        if publisher is None:
            self._log.warning("fleet summary not published: the backend has no store to write it to "
                              "(the etcd backend, or an embedded store serving a client URL)",
                              backend=self.backend.name)
        return publisher

    async def _schedule(self) -> None:
        next_tick_s = self._clock() + (self.setup.config.run.interval_s if self.watching else 0.0)
        self.status.next_full_pass_in(next_tick_s - self._clock())
        while not self._stopping:
            if self._follower is not None and self._follower.done():
                self._follower.result()  # raises what killed it
                return  # the backend was closed
            if self._reload_requested:
                self._reload_requested = False
                await self._reload()
            now_s = self._clock()
            if now_s >= next_tick_s:
                await self._tick(now_s)
                next_tick_s = now_s + self.setup.config.run.interval_s
                self.status.next_full_pass_in(next_tick_s - self._clock())
            due = self._debouncer.take_due(now_s)
            if due:
                await self._sync(due)
                continue
            await self._sleep_until(min(next_tick_s, self._debouncer.next_due_s() or math.inf))

    async def _sleep_until(self, wake_s: float) -> None:
        self._wake.clear()
        delay_s = max(0.0, wake_s - self._clock()) if wake_s < math.inf else None
        with suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await self._wake.wait()

    async def _tick(self, now_s: float) -> None:
        """The interval's full pass (rule 4)."""
        if not self.watching and not self.setup.idle:
            try:
                snapshot = await self.backend.snapshot(self.setup.prefixes)
            except MemberStopped:
                raise  # rule 5: not retried
            except ConfagentError as error:
                self._log.error("backend unavailable", backend=self.backend.name, cause=str(error))
                self.status.backend_failed(str(error))
                first_s, failures = self._failed_ticks or (now_s, 0)
                self._failed_ticks = (first_s, failures + 1)
                self._start_from_cache()
                if self._view is not None:
                    self._debouncer.mark_now(self.setup.by_name, now_s)
                return
            if self._failed_ticks is not None:
                first_s, failures = self._failed_ticks
                self._failed_ticks = None
                self._recovered(snapshot.revision, failures, now_s - first_s)
            if self._digest is not None and (self._view is None
                                             or not _same_user_keys(self._view, snapshot.entries)):
                self._keys_changed(snapshot.revision, snapshot.entries)
            self._view = KeyView(snapshot.entries, snapshot.revision)
            self._left_cache(snapshot.revision, snapshot.cluster_id)
            self.status.saw_revision(snapshot.revision)
            for problem in snapshot.problems:
                self._log.warning("key skipped", cause=str(problem))
        if self._view is not None:
            self._debouncer.mark_now(self.setup.by_name, now_s)

    async def _sync(self, names: Iterable[str]) -> list[Outcome]:
        assert self._view is not None, "resources are marked only once a view exists"
        by_name = self.setup.by_name
        resources = [by_name[name] for name in names if name in by_name]
        run = self.setup.config.run
        options = SyncOptions(noop=run.noop, sync_only=run.sync_only, keep_stage_file=run.keep_stage_file,
                              missing_only=self._saved is not None)
        slots = self._slots()
        view = self._view  # the newest when the pass starts; the follower may replace it meanwhile
        outcomes = await sync_resources(resources, self.setup.env, view, options, self._clock,
                                        reload_slots=slots)
        for outcome in outcomes:
            log_outcome(self._log, outcome)
            if isinstance(outcome.error, ReloadDeferred) and slots is not None and not self._stopping:
                self._debouncer.mark(outcome.resource, self._clock(), Wait(RELOAD_RETRY_S, RELOAD_RETRY_S))
            if outcome.diff:
                self._out.write(outcome.diff)
            self._reads[outcome.resource] = outcome.reads if outcome.ok else None
        self._out.flush()
        self.passes += 1
        self.status.record(outcomes, view)
        self._offer_to_cache(view)
        if not self._ready and self.status.fully_rendered:
            self._ready = True
            self._notifier.ready(f"rendered {len(self.setup.resources.resources)} resources")
            gc.collect()
            gc.freeze()  # rule 7
        return outcomes

    def _slots(self) -> StoreReloadSlots | None:
        """The reload slots, made when a resource first has a ``reload_lock`` (rule 9)."""
        if self._reload_slots is None and any(r.spec.reload_lock for r in self.setup.resources.resources):
            from confagent.agent._reload_slots import StoreReloadSlots  # noqa: PLC0415 - httpx when used

            self._reload_slots = StoreReloadSlots.for_backend(self.backend, self.setup.config, self._log)
        return self._reload_slots

    def _start_follower(self) -> None:
        if self.setup.idle:
            return  # nothing to read (rule 8)
        cache = PrefixCache(self.backend, self.setup.prefixes)
        self._follower = asyncio.create_task(self._follow(cache), name="confagent-cache")

    async def _stop_follower(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            await self._end_tasks([follower])

    async def _end_tasks(self, tasks: list[asyncio.Task[None]]) -> None:
        """Cancel ``tasks`` and wait for them, at most ``TASK_STOP_S`` (rule 5)."""
        stuck = await cancel_and_wait(tasks)
        if stuck:
            self._log.error("tasks did not stop; abandoned", tasks=stuck)

    async def _follow(self, cache: PrefixCache) -> None:
        """Record the cache's events until it ends: the backend closed, or it raised (rule 5)."""
        try:
            async with aclosing(cache.events()) as events:
                async for event in events:
                    if isinstance(event, CacheTrouble):
                        self.status.backend_failed(str(event.error))
                        self._log.warning("backend trouble", backend=self.backend.name,
                                          cause=str(event.error), retry_in_s=round(event.retry_in_s, 3))
                        if self._view is None:
                            self._start_from_cache()
                            if self._view is not None:
                                self._debouncer.mark_now(self.setup.by_name, self._clock())
                                self._wake.set()
                    elif isinstance(event, CacheRecovered):
                        self._recovered(event.revision, event.failures, event.down_s)
                    else:
                        self._on_update(event)
        finally:
            self._wake.set()  # let the scheduler see that the follower ended

    def _recovered(self, revision: int, failures: int, down_s: float) -> None:
        """The backend answers again after failing (rule 6): said once, in the log and on the board."""
        self.status.backend_recovered()
        self._log.info("backend recovered", backend=self.backend.name, revision=revision,
                       failures=failures, down_s=round(down_s, 3))

    def _on_update(self, update: CacheUpdate) -> None:
        before, self._view = self._view, update.view
        if update.resynced:
            self._left_cache(update.revision, update.cluster_id)
        for problem in update.problems:
            self._log.warning("key skipped", revision=update.revision, cause=str(problem))
        if update.resynced or before is None:
            self._keys_changed(update.revision, update.view)
        elif any(not key.startswith(FLEET_PREFIX) for key in update.changed):
            self._keys_changed(update.revision, update.view, before, update.changed)
        self.status.saw_revision(update.revision)
        now_s = self._clock()
        if update.resynced:
            self._debouncer.mark_now(self.setup.by_name, now_s)
        else:
            default_wait = self.setup.config.run.wait
            for resource in self.setup.resources.resources:
                if self._affected(resource, update.changed):
                    self._debouncer.mark(resource.name, now_s, resource.spec.wait or default_wait)
        if not self._debouncer:
            self.status.up_to_date(update.revision)  # no resource reads what changed
        self._wake.set()

    def _keys_changed(self, revision: int, view: Mapping[str, str], before: Mapping[str, str] | None = None,
                      changed: Iterable[str] = ()) -> None:
        """Tell the board keys outside the fleet's prefix changed, with the view's digest when the agent
        publishes (rule 12): from ``before`` and the keys ``changed``, else from the whole ``view``."""
        digest = self._digest
        if digest is not None:
            if before is None:
                digest.reset(view)
            else:
                digest.update(before, view, changed)
        self.status.keys_changed(revision, "" if digest is None else digest.hex)

    @property
    def _saved_view_path(self) -> Path:
        return self.setup.config.store.resolved_data_dir / SAVED_VIEW_FILE

    def _start_from_cache(self) -> None:
        """The backend failed before the first view: take the agent's cache as the view if it fits
        (rule 11); logged either way. Tried once."""
        if self._cache_tried or self._saver is None or self.setup.idle:
            return
        self._cache_tried = True
        path = self._saved_view_path
        try:
            saved = load_saved_view(path)
            if saved is None:
                self._log.warning("no agent's cache to render from", file=str(path))
                return
            check_saved_view(path, saved, backend=self.backend.name,
                             nodes=self.setup.config.backend_config().nodes,
                             cluster_id=getattr(self.backend, "cluster_id", None),  # the embedded member's
                             prefixes=self.setup.prefixes)
        except StorageError as error:
            self._log.error("the agent's cache refused", file=str(path), cause=str(error))
            return
        self._saved = saved
        self._view, self._cluster_id = saved.view, saved.cluster_id
        self.status.rendering_from_cache(saved.revision)
        self._log.warning("stale: rendering from the agent's cache", revision=saved.revision,
                          cluster_id=f"{saved.cluster_id:x}", saved_at=round(saved.saved_at_s, 3),
                          file=str(path))

    def _left_cache(self, revision: int, cluster_id: int) -> None:
        """The backend gave a whole view: the cache is no longer the view (rule 11)."""
        self._cluster_id = cluster_id
        saved, self._saved = self._saved, None
        if saved is None:
            return
        self._log.info("no longer stale: the backend's view replaces the agent's cache",
                       stale_since_revision=saved.revision, revision=revision)
        if saved.cluster_id and cluster_id and saved.cluster_id != cluster_id:
            self._log.error("the agent's cache came from another cluster",
                            cache_cluster_id=f"{saved.cluster_id:x}", cluster_id=f"{cluster_id:x}")

    def _offer_to_cache(self, view: KeyView) -> None:
        """Save a view read from the backend (rule 11), never the cache's own."""
        if self._saver is None or self._saved is not None:
            return
        config = self.setup.config
        self._saver.offer(SavedView(view, self._cluster_id, self.backend.name, config.backend_config().nodes,
                                    self.setup.prefixes, time.time()))

    def _affected(self, resource: LoadedResource, changed: frozenset[str]) -> bool:
        reads = self._reads.get(resource.name)
        if reads is None:
            return any(resource.scope.covers(key) for key in changed)
        return any(reads.affected_by(key) for key in changed)

    async def _reload(self) -> None:
        """Load the configuration again (rules 5-6)."""
        if self._ready:
            self._notifier.reloading()
        try:
            await self._load_again()
        finally:
            if self._ready:
                self._notifier.ready()

    async def _load_again(self) -> None:
        try:
            new = keep_running(load_setup(self._source, self._host), self.setup)
        except ConfigError as error:
            self._log.error("reload failed; keeping the running configuration", cause=str(error))
            return
        log_resource_errors(self._log, new.resources)
        self.status.set_resources(_names_and_dests(new))
        old, self.setup = self.setup, new
        if (new.config.backend_config() != old.config.backend_config()
                or new.config.discovery != old.config.discovery
                or new.config.run.watch != old.config.run.watch):
            self._log.warning("changed backend settings and watch take effect at restart")
        self._debouncer.forget(set(old.by_name) - set(new.by_name))
        self._reads = {}
        if not self.watching:
            await self._tick(self._clock())
        elif new.prefixes != old.prefixes:
            await self._stop_follower()
            self._start_follower()
        elif self._view is not None:
            self._debouncer.mark_now(new.by_name, self._clock())
        self._log.info("configuration reloaded", resources=len(new.resources.resources),
                       broken=len(new.resources.errors))
        if new.idle and not old.idle:
            self._say_idle()

    def _say_idle(self) -> None:
        """Rule 8, once per entry into the state."""
        self._log.warning(IDLE, confdir=str(self.setup.config.run.confdir),
                          broken=len(self.setup.resources.errors))
        if not self._ready:
            self._notifier.ready(NO_RESOURCE)


def _names_and_dests(setup: Setup) -> list[tuple[str, str]]:
    return [(resource.name, resource.spec.dest) for resource in setup.resources.resources]


def _same_user_keys(view: Mapping[str, str], entries: Mapping[str, str]) -> bool:
    """Whether ``view`` and ``entries`` hold the same keys and values outside ``FLEET_PREFIX`` (rule 12)."""
    def user(keys: Mapping[str, str]) -> dict[str, str]:
        return {key: value for key, value in keys.items() if not key.startswith(FLEET_PREFIX)}

    return user(view) == user(entries)
