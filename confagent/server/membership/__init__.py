"""The cluster as one member sees it: who is in it (the member table and its changes) and who leads it.

- ``_membership``: the member table (``MemberTable``), replicated state every
  member applies alike, with etcd's checks of a change; it travels in snapshots
  (``wrap_snapshot``).
- ``_member_changes``: proposing and applying membership changes on one member
  (``MemberChanges``), and keeping the peer transport dialing the table's members
  (through ``PeerDirectory``, so this package imports no transport).
- ``_ids``: member and cluster IDs derived as etcd derives them.
- ``_leadership``: who leads as the driver last observed it, with waits on its
  changes (``Leadership``), and a log line when it changes. It lives here, below
  the node that feeds it, because membership changes and the calls forwarded to
  the leader (``confagent.server.peers``) wait on it too.

It imports no other part of ``confagent.server``: the peer transport and the
node import it.
"""

import typing

from confagent import lazy
from confagent.server.membership._ids import cluster_id_of, member_id_of
from confagent.server.membership._membership import (
    DEFAULT_MAX_LEARNERS,
    Member,
    MemberCommand,
    MemberTable,
    check_peer_urls,
    unwrap_snapshot,
    wrap_snapshot,
)

if typing.TYPE_CHECKING:
    from confagent.server.membership._leadership import Leadership
    from confagent.server.membership._member_changes import MemberChanges, start_membership

__all__ = [
    "DEFAULT_MAX_LEARNERS",
    "Leadership",
    "Member",
    "MemberChanges",
    "MemberCommand",
    "MemberTable",
    "check_peer_urls",
    "cluster_id_of",
    "member_id_of",
    "start_membership",
    "unwrap_snapshot",
    "wrap_snapshot",
]

_LAZY_MODULES = {"Leadership": "_leadership", "MemberChanges": "_member_changes",
                 "start_membership": "_member_changes"}
"""Names loaded on first use, by the module defining them: the running member's, which the offline
reader of a data directory (the member table in a snapshot) does not use."""

if not typing.TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead
    __getattr__, __dir__ = lazy.lazy_exports(__name__, globals(), _LAZY_MODULES)
