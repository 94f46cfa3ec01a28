"""A kit for tests and benchmarks: real store, etcd and agent processes on loopback ports (started
through ``Processes``), bounded waits on observable conditions (``until``, ``eventually``), etcd's JSON
gateway seen from a test (``b64``, ``Keys``, ``leader_of``, ``Writers``), a seeded in-memory network
for driving Raft cores deterministically, a linearizability checker for recorded histories, and a
fault-injecting TCP proxy for partition tests on loopback.

Imported by tests and bench/ only; nothing in the product imports it.
"""

from confagent.testing._agent import AgentProcess
from confagent.testing._gateway import (
    Keys,
    Writers,
    b64,
    leader_index,
    leader_of,
    post,
    put_when_led,
    unb64,
)
from confagent.testing._history import UNKNOWN, CallToken, HistoryRecorder, Operation, Unknown
from confagent.testing._launcher import Processes
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
from confagent.testing._procs import (
    ServerProcess,
    confagent_argv,
    etcd_cluster,
    free_port,
    healthy,
    running,
    start_etcd,
    start_store,
    store_cluster,
    store_learners,
    store_process,
)
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
from confagent.testing._wait import DEADLINE_S, eventually, until, until_async

__all__ = [
    "DEADLINE_S",
    "KV_MODEL",
    "UNKNOWN",
    "AgentProcess",
    "CallToken",
    "Cas",
    "CheckResult",
    "Counterexample",
    "CrashPoint",
    "Delete",
    "FaultProxy",
    "Get",
    "HistoryRecorder",
    "Keys",
    "KvInput",
    "KvModel",
    "KvOutput",
    "Model",
    "Network",
    "NetworkFaults",
    "Operation",
    "PartitionMode",
    "Processes",
    "Put",
    "ServerProcess",
    "SimCluster",
    "SimDisk",
    "SimNode",
    "SimObserver",
    "StateMachine",
    "Unknown",
    "Writers",
    "b64",
    "check_linearizable",
    "confagent_argv",
    "etcd_cluster",
    "eventually",
    "free_port",
    "healthy",
    "leader_index",
    "leader_of",
    "post",
    "put_when_led",
    "running",
    "start_etcd",
    "start_store",
    "store_cluster",
    "store_learners",
    "store_process",
    "unb64",
    "until",
    "until_async",
]
