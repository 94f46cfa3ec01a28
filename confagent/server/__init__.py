"""The store member: Raft driver, write-ahead log, and the etcd-compatible HTTP API (the I/O edge)."""

from confagent.server._gateway import GatewayApp, ServerInfo
from confagent.server._local import LocalWatch, LocalWatchHub
from confagent.server._node import NodeConfig, StoreNode
from confagent.server._server import PeerTls, StoreConfig, StoreServer, TlsConfig

__all__ = [
    "GatewayApp",
    "LocalWatch",
    "LocalWatchHub",
    "NodeConfig",
    "PeerTls",
    "ServerInfo",
    "StoreConfig",
    "StoreNode",
    "StoreServer",
    "TlsConfig",
]
