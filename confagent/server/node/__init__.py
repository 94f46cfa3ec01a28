"""The store node: the Raft driver and the state it applies to, behind a small public API.

``StoreNode`` (``_node``) is the one task that owns a Raft core: it persists a
Ready (``confagent.server.storage``), sends its messages (``confagent.server.peers``),
applies the committed entries to the key-value state machine and the member
table (``confagent.server.membership``), and advances. Around it, each with its
rules:

- ``_config``: the node's settings (``NodeConfig``), every bound named.
- ``_applier``: one committed entry applied (store, auth and member commands);
  ``_auth``: the member's users, roles and tokens, and who the call being served is
  (``CALLER``, ``MemberAuth.credentials``); ``_jwt_signer``: JWTs signed and verified
  with the keys of ``--auth-token jwt,...``.
- ``_proposals``: writes and progress probes waiting for their entry; ``_answers``: where a
  write's outcome goes, given in the apply step (``Answer``) or awaited (``answered``).
- ``_read_barrier``: linearizable reads in batches sharing one ReadIndex round.
- ``_leases``: lease deadlines on the leader, lease calls on any member.
- ``_watches``: the node's one watch fan-out (``WatchRegistry``) and its owners;
  ``_local``: the in-process watches of the agent's embedded backend.
- ``_entries``: what a committed entry is, and a store command applied (the
  applier's and the offline reader's); ``_data_dir_reader``: a data directory
  read into its key-value state without a member (a one-shot's).
- ``_member_snapshots``: the member's state as snapshots, captured, taken, sent to
  followers behind and installed from a leader (``MemberSnapshots``); ``_snapshotter``:
  snapshots every ``snapshot_entries``, encoded and written in a worker thread while
  the driver goes on; ``_heap``: full garbage collections that
  walk only what is younger than the last one (``HeapFreezer``).

Over it, as clients of its public calls (``_local`` is one too): etcd's lock and
election services, written once for every front (``_concurrency``:
``ConcurrencyServices``), ``_lock_service`` and ``_election_service`` over the
machinery they share (``_prefix_waits``: a call's lease, turns, clean-ups).

It imports storage, peers and membership; the client edge (``confagent.server.api``)
imports it.

Its names load their modules on first use (``confagent.lazy``), so that an
offline reader imports no more of the node than it uses.
"""

import typing

from confagent import lazy

if typing.TYPE_CHECKING:
    from confagent.server.node._answers import Answer, answered
    from confagent.server.node._auth import CALLER, Caller, wrap_auth
    from confagent.server.node._concurrency import ConcurrencyServices
    from confagent.server.node._config import NodeConfig
    from confagent.server.node._data_dir_reader import (
        DataDirKeys,
        DataDirView,
        read_data_dir,
        read_data_dir_keys,
    )
    from confagent.server.node._election_service import ElectionService
    from confagent.server.node._jwt_signer import PyJwtSigner, jwt_signer
    from confagent.server.node._local import LocalWatch, LocalWatchHub
    from confagent.server.node._lock_service import LockService
    from confagent.server.node._node import StoreNode
    from confagent.server.node._watches import WatchRegistry

__all__ = [
    "CALLER",
    "Answer",
    "Caller",
    "ConcurrencyServices",
    "DataDirKeys",
    "DataDirView",
    "ElectionService",
    "LocalWatch",
    "LocalWatchHub",
    "LockService",
    "NodeConfig",
    "PyJwtSigner",
    "StoreNode",
    "WatchRegistry",
    "answered",
    "jwt_signer",
    "read_data_dir",
    "read_data_dir_keys",
    "wrap_auth",
]

_LAZY_MODULES = {"Answer": "_answers", "answered": "_answers",
                 "CALLER": "_auth", "Caller": "_auth", "wrap_auth": "_auth",
                 "ConcurrencyServices": "_concurrency", "NodeConfig": "_config",
                 "DataDirKeys": "_data_dir_reader", "DataDirView": "_data_dir_reader",
                 "read_data_dir": "_data_dir_reader", "read_data_dir_keys": "_data_dir_reader",
                 "ElectionService": "_election_service", "PyJwtSigner": "_jwt_signer",
                 "jwt_signer": "_jwt_signer", "LocalWatch": "_local", "LocalWatchHub": "_local",
                 "LockService": "_lock_service", "StoreNode": "_node", "WatchRegistry": "_watches"}
"""Names loaded on first use, by the module defining them (module docstring)."""

if not typing.TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead
    __getattr__, __dir__ = lazy.lazy_exports(__name__, globals(), _LAZY_MODULES)
