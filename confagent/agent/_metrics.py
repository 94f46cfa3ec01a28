"""``AgentMetrics``: the agent's Prometheus metrics, in a registry of their own (not the global one).

Metric names (all prefixed ``confagent_agent_``):

* ``renders_total{resource}``, ``render_failures_total{resource}``: passes over a resource, failed ones;
* ``last_success_timestamp_seconds{resource}``: Unix time of the resource's last successful pass;
* ``cache_revision``: the revision of the agent's view of the store;
* ``backend_revision``: the newest revision the backend reported (a snapshot's or a change's);
* ``rendered_revision``: the revision of the newest completed pass;
* ``revision_lag``: ``backend_revision - rendered_revision`` (changes not in the files yet, 0 when current);
* ``apply_duration_seconds``: histogram of one resource's render-and-apply time.
"""

from __future__ import annotations

from contextlib import suppress

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["METRICS_CONTENT_TYPE", "AgentMetrics"]

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_APPLY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0)


class AgentMetrics:
    """The metrics of one agent; ``exposition()`` is the text ``/metrics`` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        prefix = "confagent_agent_"
        registry = self.registry
        self.renders = Counter(prefix + "renders", "Passes over a resource (render, plan, apply).",
                               ["resource"], registry=registry)
        self.failures = Counter(prefix + "render_failures", "Passes over a resource that failed.",
                                ["resource"], registry=registry)
        self.last_success = Gauge(prefix + "last_success_timestamp_seconds",
                                  "Unix time of the resource's last successful pass.",
                                  ["resource"], registry=registry)
        self.cache_revision = Gauge(prefix + "cache_revision", "Revision of the agent's view of the store.",
                                    registry=registry)
        self.backend_revision = Gauge(prefix + "backend_revision",
                                      "Newest revision the backend reported.", registry=registry)
        self.rendered_revision = Gauge(prefix + "rendered_revision", "Revision of the newest completed pass.",
                                       registry=registry)
        self.revision_lag = Gauge(prefix + "revision_lag",
                                  "backend_revision - rendered_revision: revisions not rendered yet.",
                                  registry=registry)
        self.apply_duration = Histogram(prefix + "apply_duration_seconds",
                                        "Render-and-apply time of one resource.",
                                        buckets=_APPLY_BUCKETS_S, registry=registry)

    def forget(self, resource: str) -> None:
        """Drop the per-resource series of a resource that no longer exists."""
        for metric in (self.renders, self.failures, self.last_success):
            with suppress(KeyError):  # it never rendered
                metric.remove(resource)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
