"""``MetadMetrics``: the service's Prometheus metrics, in a registry of their own.

Metric names (all prefixed ``confagent_metad_``; metad's ``/metrics`` has only Go runtime metrics):

* ``revision``: the store revision the service's state is at (``X-Metad-Version``);
* ``waiting_requests``: long-poll requests waiting for a change;
* ``cache_troubles_total``: problems the watch met (the store unreachable, history compacted).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["METRICS_CONTENT_TYPE", "MetadMetrics"]

METRICS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class MetadMetrics:
    """The metrics of one service; gauges read the service when scraped."""

    def __init__(self, revision: Callable[[], float], waiting: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        prefix = "confagent_metad_"
        Gauge(prefix + "revision", "Store revision of the service's state.",
              registry=self.registry).set_function(revision)
        Gauge(prefix + "waiting_requests", "Long-poll requests waiting for a change.",
              registry=self.registry).set_function(waiting)
        self.troubles = Counter(prefix + "cache_troubles", "Problems the watch met (it recovers alone).",
                                registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
