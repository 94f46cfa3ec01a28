"""A store member's node settings (``NodeConfig``): its identity, its peers, and every bound named.

``confagent.server``'s bootstrap fills it from the member's ``StoreConfig``
(etcd's flags); tests and benchmarks build it directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from confagent.auth import TokenSettings
from confagent.server.membership import DEFAULT_MAX_LEARNERS, Member
from confagent.server.peers import PeerTls
from confagent.server.storage import SEGMENT_BYTES

__all__ = ["NodeConfig"]


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Settings of one store member; bounds are named here."""

    data_dir: Path
    member_id: int
    cluster_id: int
    tick_s: float = 0.1
    election_ticks: int = 10
    snapshot_entries: int = 20_000
    """Take a snapshot (and release WAL segments) after this many applied entries."""
    wal_segment_bytes: int = SEGMENT_BYTES
    """Cut a new WAL segment once the current one holds this many bytes (a whole segment is
    what a release deletes)."""
    max_pending_proposals: int = 20_000
    """Proposals waiting for the log beyond this are refused with 'too many requests'."""
    min_lease_ttl: int = 2
    max_expiries_per_round: int = 500
    """At most this many expired leases are revoked per round (etcd: 1000 per second)."""
    peers: Mapping[int, str] = field(default_factory=dict)
    """The initial cluster: member ID -> peer URL, this member included; empty for one member."""
    listen_peer_url: str = ""
    request_timeout_s: float = 7.0
    """A write or linearizable read not done by then fails with 'request timed out' (etcd's)."""
    auth_tokens: TokenSettings = field(default_factory=TokenSettings)
    """Which tokens ``Authenticate`` hands out (etcd's ``--auth-token``; ``--auth-token-ttl``:
    a simple token unused this long is gone)."""
    peer_tls: PeerTls | None = None
    """Certificates for ``https://`` peer URLs."""
    name: str = ""
    client_urls: tuple[str, ...] = ()
    """Published through the log once started (a member without a name publishes nothing)."""
    initial_members: tuple[Member, ...] = ()
    """The member table before any change: the bootstrap (or, joining, the given) members."""
    joining: bool = False
    """Joining a running cluster (``--initial-cluster-state existing``): learn everything from
    its leader, never campaign before this member's addition is applied."""
    max_learners: int = DEFAULT_MAX_LEARNERS
    """Learners the cluster may hold when this member adds one (``--max-learners``)."""
    cluster_token: str = "etcd-cluster"
    """Member IDs of added members derive from their peer URLs and this token."""

    @property
    def voters(self) -> tuple[int, ...]:
        return tuple(sorted(self.peers)) if self.peers else (self.member_id,)
