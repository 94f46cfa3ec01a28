"""A kit for tests and benchmarks: real store and etcd processes on loopback ports, and a seeded
in-memory network for driving Raft cores deterministically.

Imported by tests and bench/ only; nothing in the product imports it.
"""

from confagent.testing._procs import ServerProcess, free_port, start_etcd, start_store, store_cluster
from confagent.testing._sim import (
    CrashPoint,
    NetworkFaults,
    SimCluster,
    SimDisk,
    SimNode,
    SimObserver,
    StateMachine,
)

__all__ = [
    "CrashPoint",
    "NetworkFaults",
    "ServerProcess",
    "SimCluster",
    "SimDisk",
    "SimNode",
    "SimObserver",
    "StateMachine",
    "free_port",
    "start_etcd",
    "start_store",
    "store_cluster",
]
