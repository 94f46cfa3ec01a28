"""A kit for tests and benchmarks: real store and etcd processes on loopback ports, and a seeded
in-memory network for driving Raft cores deterministically, a linearizability checker for recorded
histories, and a fault-injecting TCP proxy for partition tests on loopback.

Imported by tests and bench/ only; nothing in the product imports it.
"""

from confagent.testing._history import UNKNOWN, CallToken, HistoryRecorder, Operation, Unknown
from confagent.testing._linearizability import (
    KV_MODEL,
    Cas,
    CheckResult,
    Counterexample,
    Delete,
    Get,
    KvInput,
    KvModel,
    KvOutput,
    Model,
    Put,
)
from confagent.testing._linearizability import check as check_linearizable
from confagent.testing._procs import ServerProcess, free_port, running, start_etcd, start_store, store_cluster
from confagent.testing._proxy import FaultProxy, Network, PartitionMode
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
    "KV_MODEL",
    "UNKNOWN",
    "CallToken",
    "Cas",
    "CheckResult",
    "Counterexample",
    "CrashPoint",
    "Delete",
    "FaultProxy",
    "Get",
    "HistoryRecorder",
    "KvInput",
    "KvModel",
    "KvOutput",
    "Model",
    "Network",
    "NetworkFaults",
    "Operation",
    "PartitionMode",
    "Put",
    "ServerProcess",
    "SimCluster",
    "SimDisk",
    "SimNode",
    "SimObserver",
    "StateMachine",
    "Unknown",
    "check_linearizable",
    "free_port",
    "running",
    "start_etcd",
    "start_store",
    "store_cluster",
]
