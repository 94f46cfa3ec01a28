"""A kit for tests and benchmarks: real store and etcd processes on loopback ports.

Imported by tests and bench/ only; nothing in the product imports it.
"""

from confagent.testing._procs import ServerProcess, free_port, start_etcd, start_store

__all__ = ["ServerProcess", "free_port", "start_etcd", "start_store"]
