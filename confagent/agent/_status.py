"""``StatusBoard``: what the running agent knows of itself, for ``/health``, ``/metrics`` and ``/v1/status``.

Rules:
1. The daemon reports to it: each pass's outcomes (``record``), each view of
   the store (``saw_revision``), backend trouble (``backend_failed``) and the
   resource set after a (re)load (``set_resources``). It never blocks.
2. The agent is healthy once every resource has had a pass (the first full
   render, successful or not: a broken resource is reported per resource,
   not as the agent's health) and the backend is connected: no trouble since
   the last revision it reported. Else ``health()`` gives the reason; with no
   resource to render (every one broken) that is the reason, first.
3. ``ResourceStatus`` values are frozen; the board replaces them. Times are
   Unix seconds from the ``wall_clock`` it is given.
4. Its ``metrics`` (and prometheus_client) are made on first use: a one-shot
   run has a board too, and never reports to it.
5. ``history`` is the render history's recorder while the daemon runs with
   one (``confagent.history``): ``record`` hands it each pass's outcomes with
   the view they rendered from, and the listener reads it (``/v1/history``).
6. Stale: when the daemon renders from the agent's durable cache because the
   backend did not answer at start (``rendering_from_cache``), ``/v1/status``
   says ``stale`` and since which revision (``stale_since_revision``), and
   the agent is not healthy, its reason saying so, until the backend
   reports a revision again.
7. The status page (``confagent.agent._page``) follows the board: ``watch``
   gives a queue woken (one pending wake at most) on every change the
   board is told of, until ``unwatch``; with no watcher a change costs one
   test of an empty set and nothing is built. The board keeps the view of
   the last pass and what each resource's last render read (``reads``), as
   references, for the page to show the keys each resource reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from confagent.agent._sync import Outcome

if TYPE_CHECKING:
    from confagent.agent._metrics import AgentMetrics
    from confagent.history import HistoryRecorder
    from confagent.render import KeyView, Reads

__all__ = ["FLEET_PREFIX", "NO_RESOURCE", "RESULT_FAILED", "RESULT_OK", "RESULT_PENDING", "Health",
           "ResourceStatus", "StatusBoard"]

FLEET_PREFIX = "/confagent/fleet/"
"""The store prefix reserved for the agents' summaries (``confagent.agent._fleet``; rule 8)."""
RESULT_OK = "ok"
RESULT_FAILED = "failed"
RESULT_PENDING = "pending"
"""Not rendered yet since the agent (or the resource) started."""
NO_RESOURCE = "no resource to render: every resource in conf.d is broken"
"""The agent's state when every resource is broken: its health's reason, and a one-shot pass's last line."""


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    """One resource as ``/v1/status`` shows it."""

    resource: str
    dest: str
    revision: int = 0
    """The revision of its last pass (0: none yet)."""
    result: str = RESULT_PENDING
    error: str | None = None
    last_success_s: float | None = None
    """Unix time of its last successful pass."""

    def as_json(self) -> dict[str, object]:
        return {"resource": self.resource, "dest": self.dest, "revision": self.revision,
                "result": self.result, "error": self.error, "last_success": self.last_success_s}


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reason: str = ""


class StatusBoard:
    """The agent's state as seen from outside (module rules)."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall_clock = wall_clock
        self._resources: dict[str, ResourceStatus] = {}
        self._resources_set = False
        self._trouble: str | None = "the backend has not answered yet"
        self.cache_revision = 0
        self.backend_revision = 0
        self.rendered_revision = 0
        self.key_revision = 0
        """The newest revision at which keys outside ``FLEET_PREFIX`` changed (rule 8)."""
        self.converged_revision = 0
        """The newest ``key_revision`` rendered (rule 8)."""
        self.key_digest = ""
        self.converged_digest = ""
        """The digest of the view at ``converged_revision`` (rule 8; "" when no digest is kept)."""
        self.stale_since_revision: int | None = None
        """The revision of the agent's cache it renders from while the backend is away (rule 6)."""
        self.history: HistoryRecorder | None = None
        """The render history (rule 5); None while none is kept."""
        self.view: KeyView | None = None
        """The view the last pass rendered from (rule 7)."""
        self.reads: dict[str, Reads] = {}
        """What each resource's last render read (rule 7)."""
        self.next_full_pass_s: float | None = None
        """Unix time of the daemon's next full pass, when failed resources are tried again."""
        self.fleet: dict[bytes, bytes] | None = None
        """Every host's summary under ``FLEET_PREFIX`` (rule 8); None while the agent publishes none."""
        self._watchers: set[asyncio.Queue[None]] = set()
        self.wakes = 0
        """Watchers woken since start (rule 7: none while nobody watches)."""

    def watch(self) -> asyncio.Queue[None]:
        """A queue that holds a wake after each change until ``unwatch`` (rule 7)."""
        wake: asyncio.Queue[None] = asyncio.Queue(1)
        self._watchers.add(wake)
        return wake

    def unwatch(self, wake: asyncio.Queue[None]) -> None:
        self._watchers.discard(wake)

    @property
    def watchers(self) -> int:
        """How many watch the board now (open pages)."""
        return len(self._watchers)

    def next_full_pass_in(self, delay_s: float) -> None:
        """The daemon's next full pass (which retries failed resources) is ``delay_s`` from now."""
        self.next_full_pass_s = self._wall_clock() + delay_s

    def _changed(self) -> None:
        """Wake every watcher (rule 7); nothing at all without one."""
        if not self._watchers:
            return
        for wake in self._watchers:
            self.wakes += 1
            if not wake.full():
                wake.put_nowait(None)

    @cached_property
    def metrics(self) -> AgentMetrics:
        """The Prometheus metrics of this board (rule 4)."""
        from confagent.agent._metrics import AgentMetrics  # noqa: PLC0415 - see rule 4

        return AgentMetrics()

    @property
    def resources(self) -> tuple[ResourceStatus, ...]:
        return tuple(self._resources[name] for name in sorted(self._resources))

    @property
    def fully_rendered(self) -> bool:
        """Every resource has had a pass since it appeared."""
        return bool(self._resources) and all(status.result != RESULT_PENDING
                                             for status in self._resources.values())

    def set_resources(self, resources: Iterable[tuple[str, str]]) -> None:
        """The current resources as (name, dest); new ones are pending, gone ones forgotten."""
        current = dict(resources)
        self._resources_set = True
        for name in set(self._resources) - set(current):
            del self._resources[name]
            self.metrics.forget(name)
        for name, dest in current.items():
            known = self._resources.get(name)
            if known is None or known.dest != dest:
                self._resources[name] = ResourceStatus(name, dest)
        for name in set(self.reads) - set(current):
            del self.reads[name]
        self._changed()

    def record(self, outcomes: Sequence[Outcome], view: KeyView | None = None) -> None:
        """The outcomes of one pass (noop passes count as passes too), rendered from ``view`` (rule 5)."""
        if self.history is not None and view is not None:
            self.history.submit(outcomes, view)
        now_s = self._wall_clock()
        metrics = self.metrics
        if view is not None:
            self.view = view
        for outcome in outcomes:
            if outcome.reads is not None:
                self.reads[outcome.resource] = outcome.reads
            metrics.renders.labels(outcome.resource).inc()
            metrics.apply_duration.observe(outcome.duration_ms / 1000)
            known = self._resources.get(outcome.resource, ResourceStatus(outcome.resource, outcome.dest))
            if outcome.ok:
                metrics.last_success.labels(outcome.resource).set(now_s)
                status = replace(known, revision=outcome.revision, result=RESULT_OK, error=None,
                                 last_success_s=now_s)
            else:
                metrics.failures.labels(outcome.resource).inc()
                status = replace(known, revision=outcome.revision, result=RESULT_FAILED,
                                 error=str(outcome.error))
            self._resources[outcome.resource] = status
            self.rendered_revision = max(self.rendered_revision, outcome.revision)
        self._update_revisions()
        self._changed()

    def up_to_date(self, revision: int) -> None:
        """Every file is what ``revision`` renders (a change no resource reads, nothing pending)."""
        self.rendered_revision = max(self.rendered_revision, revision)
        self._update_revisions()
        self._changed()

    def keys_changed(self, revision: int, digest: str = "") -> None:
        """Keys outside ``FLEET_PREFIX`` changed at ``revision``; ``digest``: the view's then (rule 8)."""
        if revision >= self.key_revision:
            self.key_revision, self.key_digest = revision, digest
        self._update_revisions()

    def fleet_changed(self, summaries: dict[bytes, bytes]) -> None:
        """The fleet's summaries are now ``summaries`` (rule 8)."""
        self.fleet = summaries
        self._changed()

    def saw_revision(self, revision: int) -> None:
        """The backend answered, at ``revision``: it is connected; the view is at ``revision``."""
        self._trouble = None
        self.stale_since_revision = None
        self.cache_revision = revision
        self.backend_revision = max(self.backend_revision, revision)
        self._update_revisions()
        self._changed()

    def backend_failed(self, cause: str) -> None:
        """The backend is unreachable (or its changes were lost) until it reports a revision again."""
        self._trouble = cause
        self._changed()

    def rendering_from_cache(self, revision: int) -> None:
        """The view is the agent's cache at ``revision``: the backend has not answered since start
        (rule 6)."""
        self.stale_since_revision = revision
        self.cache_revision = revision
        self._update_revisions()
        self._changed()

    def backend_recovered(self) -> None:
        """The backend answered again, with no new revision to report."""
        self._trouble = None
        self._changed()

    @property
    def backend_trouble(self) -> str | None:
        return self._trouble

    def health(self) -> Health:
        """Healthy, or why not (rule 2)."""
        if self._resources_set and not self._resources:
            return Health(False, NO_RESOURCE)
        stale = ("" if self.stale_since_revision is None else
                 f"stale: rendering from the agent's cache at revision {self.stale_since_revision}")
        if self._trouble is not None:
            return Health(False, f"backend not connected: {self._trouble}{stale and '; ' + stale}")
        if stale:
            return Health(False, stale)  # the backend answered a probe; its view is not here yet
        if not self.fully_rendered:
            pending = sorted(status.resource for status in self._resources.values()
                             if status.result == RESULT_PENDING)
            return Health(False, f"first full render not done; pending: {', '.join(pending) or 'all'}")
        return Health(True)

    def as_json(self) -> dict[str, object]:
        """The ``/v1/status`` document."""
        health = self.health()
        return {"health": health.ok, "reason": health.reason, "cache_revision": self.cache_revision,
                "backend_revision": self.backend_revision, "rendered_revision": self.rendered_revision,
                "stale": self.stale_since_revision is not None,
                "stale_since_revision": self.stale_since_revision,
                "resources": [status.as_json() for status in self.resources]}

    def _update_revisions(self) -> None:
        if self.rendered_revision >= self.key_revision:
            self.converged_revision, self.converged_digest = self.key_revision, self.key_digest
        metrics = self.metrics
        metrics.cache_revision.set(self.cache_revision)
        metrics.backend_revision.set(self.backend_revision)
        metrics.rendered_revision.set(self.rendered_revision)
        metrics.revision_lag.set(max(0, self.backend_revision - self.rendered_revision))
