"""Prometheus metrics of a store member, named as etcd names them where etcd has one, and the
process's own (``process_resident_memory_bytes`` and the rest, as etcd's Go client exports them:
``etcdctl check datascale`` reads it).

Rules:
1. A request is counted in a plain table (path and status -> count, and when the
   pair was first seen): nothing of prometheus_client on the hot path.
2. prometheus_client (and the ``http.server`` its exposition imports: 10-30 ms of a
   member's start) is imported, and the registry built, at the first scrape; the
   counts are read into it at every scrape, with their first-seen times as the
   counter's ``_created``, as its own counters would have had them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Gauge

    from confagent.server.node import StoreNode

__all__ = ["Metrics"]

GAUGES = (
    ("etcd_debugging_mvcc_current_revision", "The current revision of the store."),
    ("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction."),
    ("etcd_debugging_mvcc_keys_total", "Keys in the store."),
    ("etcd_server_term", "The Raft term of this member."),
    ("etcd_server_proposals_committed_total", "The committed Raft index."),
    ("etcd_server_proposals_applied_total", "The applied Raft index."),
    ("etcd_server_has_leader", "1 when this member knows a leader."),
    ("confagent_leases", "Leases granted and not yet revoked."),
    ("etcd_debugging_mvcc_watcher_total", "Total number of watchers."),
    ("etcd_debugging_mvcc_slow_watcher_total", "Total number of unsynced slow watchers."),
)
"""The store's gauges, in the order a scrape lists them, each read off the node at the scrape."""


class Metrics:
    """One registry per server, so tests can run several servers in one process."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, int], list[float]] = {}
        """(path, status) -> [count, first seen (Unix seconds)] (rule 1)."""
        self._registry: CollectorRegistry | None = None
        self._gauges: dict[str, Gauge] = {}

    def request(self, path: str, status: int) -> None:
        counted = self._requests.get((path, status))
        if counted is None:
            self._requests[(path, status)] = [1.0, time.time()]
        else:
            counted[0] += 1.0

    def observe_store(self, node: StoreNode) -> None:
        """Read the gauges off the node just before a scrape (nothing on the hot path)."""
        indexes = node.log_indexes()
        values = (node.kv.revision, node.kv.compact_revision, node.kv.key_count(), node.term,
                  indexes.committed, indexes.applied, 1 if node.leader_id else 0, len(node.kv.lease_ids()),
                  node.watches.watcher_count(), len(node.watches.hub.unsynced()))
        self._registry_now()
        for (name, _), value in zip(GAUGES, values, strict=True):
            self._gauges[name].set(value)

    def render(self) -> bytes:
        from prometheus_client import generate_latest  # noqa: PLC0415 - at the first scrape (rule 2)

        return generate_latest(self._registry_now())

    def _registry_now(self) -> CollectorRegistry:
        """The registry, built at the first scrape (rule 2)."""
        if self._registry is not None:
            return self._registry
        from prometheus_client import CollectorRegistry, Gauge, ProcessCollector  # noqa: PLC0415 - rule 2

        self._registry = registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        registry.register(_RequestCollector(self._requests))
        self._gauges = {name: Gauge(name, text, registry=registry) for name, text in GAUGES}
        return registry


class _RequestCollector:
    """``confagent_http_requests``: the gateway's requests by path and HTTP status, from the table."""

    def __init__(self, requests: dict[tuple[str, int], list[float]]) -> None:
        self._requests = requests

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 - rule 2

        family = CounterMetricFamily("confagent_http_requests", "Gateway requests by path and HTTP status.",
                                     labels=["path", "status"])
        for (path, status), (count, created) in list(self._requests.items()):
            family.add_metric([path, str(status)], count, created=created)
        yield family
