"""The store member: Raft driver, write-ahead log, and the etcd-compatible HTTP API (the I/O edge)."""

from confagent.server._restore import RestoreConfig, restore_snapshot
from confagent.server._server import StoreServer
from confagent.server.api import GatewayApp, ServerInfo
from confagent.server.node import LocalWatch, LocalWatchHub, NodeConfig, StoreNode
from confagent.server.peers import PeerTls
from confagent.server.storage import (
    SavedSnapshot,
    ServingRecord,
    read_saved_snapshot,
    read_serving_record,
    serving_record_path,
)

__all__ = [
    "GatewayApp",
    "LocalWatch",
    "LocalWatchHub",
    "NodeConfig",
    "PeerTls",
    "RestoreConfig",
    "SavedSnapshot",
    "ServerInfo",
    "ServingRecord",
    "StoreNode",
    "StoreServer",
    "read_saved_snapshot",
    "read_serving_record",
    "restore_snapshot",
    "serving_record_path",
]
