"""``_metrics``: a member's Prometheus text carries the process's own metrics under etcd's names."""

from __future__ import annotations

from confagent.server.api._metrics import Metrics


def test_the_process_metrics_etcdctl_check_datascale_reads_are_there() -> None:
    names = {line.split(" ", 1)[0] for line in Metrics().render().decode().splitlines()
             if not line.startswith("#")}
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"} <= names
