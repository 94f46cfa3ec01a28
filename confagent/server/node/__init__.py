"""The store node: the Raft driver and the state it applies to, behind a small public API.

``StoreNode`` (``_node``) is the one task that owns a Raft core: it persists a
Ready (``confagent.server.storage``), sends its messages (``confagent.server.peers``),
applies the committed entries to the key-value state machine and the member
table (``confagent.server.membership``), and advances. Around it, each with its
rules:

- ``_config``: the node's settings (``NodeConfig``), every bound named.
- ``_proposals``: writes and progress probes waiting for their entry.
- ``_read_barrier``: linearizable reads in batches sharing one ReadIndex round.
- ``_leases``: lease deadlines on the leader, lease calls on any member.
- ``_watches``: the node's one watch fan-out (``WatchRegistry``) and its owners;
  ``_local``: the in-process watches of the agent's embedded backend.

It imports storage, peers and membership; the client edge (``confagent.server.api``)
imports it.
"""

from confagent.server.node._config import NodeConfig
from confagent.server.node._local import LocalWatch, LocalWatchHub
from confagent.server.node._node import StoreNode
from confagent.server.node._watches import WatchRegistry

__all__ = [
    "LocalWatch",
    "LocalWatchHub",
    "NodeConfig",
    "StoreNode",
    "WatchRegistry",
]
