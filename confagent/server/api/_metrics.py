"""Prometheus metrics of a store member, named as etcd names them where etcd has one, and the
process's own (``process_resident_memory_bytes`` and the rest, as etcd's Go client exports them:
``etcdctl check datascale`` reads it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest

if TYPE_CHECKING:
    from confagent.server.node import StoreNode

__all__ = ["Metrics"]


class Metrics:
    """One registry per server, so tests can run several servers in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self._requests = Counter(
            "confagent_http_requests", "Gateway requests by path and HTTP status.",
            ["path", "status"], registry=self.registry)
        self._revision = Gauge(
            "etcd_debugging_mvcc_current_revision", "The current revision of the store.",
            registry=self.registry)
        self._compact = Gauge(
            "etcd_debugging_mvcc_compact_revision", "The revision of the last compaction.",
            registry=self.registry)
        self._keys = Gauge(
            "etcd_debugging_mvcc_keys_total", "Keys in the store.", registry=self.registry)
        self._term = Gauge(
            "etcd_server_term", "The Raft term of this member.", registry=self.registry)
        self._committed = Gauge(
            "etcd_server_proposals_committed_total", "The committed Raft index.",
            registry=self.registry)
        self._applied = Gauge(
            "etcd_server_proposals_applied_total", "The applied Raft index.",
            registry=self.registry)
        self._has_leader = Gauge(
            "etcd_server_has_leader", "1 when this member knows a leader.",
            registry=self.registry)
        self._leases = Gauge(
            "confagent_leases", "Leases granted and not yet revoked.", registry=self.registry)
        self._watchers = Gauge(
            "etcd_debugging_mvcc_watcher_total", "Total number of watchers.", registry=self.registry)
        self._slow_watchers = Gauge(
            "etcd_debugging_mvcc_slow_watcher_total", "Total number of unsynced slow watchers.",
            registry=self.registry)
        self._children: dict[tuple[str, int], Counter] = {}

    def request(self, path: str, status: int) -> None:
        child = self._children.get((path, status))
        if child is None:
            child = self._requests.labels(path=path, status=str(status))
            self._children[(path, status)] = child
        child.inc()

    def observe_store(self, node: StoreNode) -> None:
        """Read the gauges off the node just before a scrape (nothing on the hot path)."""
        self._revision.set(node.kv.revision)
        self._compact.set(node.kv.compact_revision)
        self._keys.set(node.kv.key_count())
        self._term.set(node.term)
        indexes = node.log_indexes()
        self._committed.set(indexes.committed)
        self._applied.set(indexes.applied)
        self._has_leader.set(1 if node.leader_id else 0)
        self._leases.set(len(node.kv.lease_ids()))
        self._watchers.set(node.watches.watcher_count())
        self._slow_watchers.set(len(node.watches.hub.unsynced()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
