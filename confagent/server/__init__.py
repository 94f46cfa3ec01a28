"""The store member: an etcd-compatible key-value store replicated with Raft, the I/O around raft and kv.

Its sub-packages, by noun, import one way, left to right, never back::

    api  ->  node  ->  peers  ->  membership
                   ->  storage

- ``storage``: the data directory: write-ahead log, snapshot files, recovery,
  the member's identity, the serving record, saved snapshot files. Imports
  none of the others.
- ``membership``: the member table, membership changes, member IDs, and who
  leads. Imports none of the others.
- ``peers``: the peer transport and the calls that travel over it (Raft
  messages, lease and member calls forwarded to the leader), peer TLS.
- ``node``: ``StoreNode``, the Raft driver and the state it applies to, with
  its proposals, reads, leases and watch fan-out.
- ``api``: the client edge: etcd's JSON gateway (``GatewayApp``), its streams,
  member paths and metrics; it also reads the member table and the saved
  snapshot format.

At this package's top, importing any of them: ``_server`` (``StoreServer``: a
member from its settings, its node and its listeners), ``_bootstrap`` (from
``StoreConfig`` to the node's settings and identity) and ``_restore``
(``snapshot restore``, offline). tests/test_layers.py holds the direction
(``SERVER_ALLOWED``) and that no module imports another in a cycle.

Its names load their modules on first use (``confagent.lazy``): a one-shot
reading a data directory (``storage``, ``node``'s offline reader) does not import
the client edge, uvicorn and the gRPC front.
"""

import typing

from confagent import lazy

if typing.TYPE_CHECKING:
    from confagent.server._restore import RestoreConfig, restore_snapshot
    from confagent.server._server import StoreServer
    from confagent.server.api import GatewayApp, ServerInfo
    from confagent.server.node import (
        DataDirKeys,
        DataDirView,
        LocalWatch,
        LocalWatchHub,
        NodeConfig,
        StoreNode,
        read_data_dir,
        read_data_dir_keys,
    )
    from confagent.server.peers import PeerTls
    from confagent.server.storage import (
        SavedSnapshot,
        ServingRecord,
        SnapshotStatus,
        read_saved_snapshot,
        read_serving_record,
        read_snapshot_status,
        serving_record_path,
    )

__all__ = [
    "DataDirKeys",
    "DataDirView",
    "GatewayApp",
    "LocalWatch",
    "LocalWatchHub",
    "NodeConfig",
    "PeerTls",
    "RestoreConfig",
    "SavedSnapshot",
    "ServerInfo",
    "ServingRecord",
    "SnapshotStatus",
    "StoreNode",
    "StoreServer",
    "read_data_dir",
    "read_data_dir_keys",
    "read_saved_snapshot",
    "read_serving_record",
    "read_snapshot_status",
    "restore_snapshot",
    "serving_record_path",
]

_LAZY_MODULES = {"DataDirKeys": "node", "DataDirView": "node", "read_data_dir": "node",
                 "read_data_dir_keys": "node", "RestoreConfig": "_restore",
                 "restore_snapshot": "_restore", "StoreServer": "_server", "GatewayApp": "api",
                 "ServerInfo": "api", "LocalWatch": "node", "LocalWatchHub": "node", "NodeConfig": "node",
                 "StoreNode": "node", "PeerTls": "peers", "SavedSnapshot": "storage",
                 "ServingRecord": "storage", "SnapshotStatus": "storage", "read_saved_snapshot": "storage",
                 "read_serving_record": "storage", "read_snapshot_status": "storage",
                 "serving_record_path": "storage"}
"""Names loaded on first use, by the module or sub-package defining them (module docstring)."""

if not typing.TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead
    __getattr__, __dir__ = lazy.lazy_exports(__name__, globals(), _LAZY_MODULES)
