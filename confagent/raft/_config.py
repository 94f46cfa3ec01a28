"""One Raft node's settings, checked before it starts; and the roles a node can be in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from confagent.errors import ConfigError

__all__ = ["RaftConfig", "Role"]


class Role(Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """One node's Raft settings. Times are in ticks; the driver decides how long a tick is.

    ``voters`` and ``learners`` are the membership a brand-new cluster starts
    with; a node restarted from a snapshot whose metadata names a membership
    uses that instead, and later changes come from the log (membership
    changes take effect as they are applied).
    """

    node_id: int
    voters: tuple[int, ...]
    election_ticks: int = 10
    """A follower that hears no leader for [election_ticks, 2*election_ticks) ticks campaigns."""
    heartbeat_ticks: int = 1
    """A leader sends heartbeats every heartbeat_ticks ticks."""
    learners: tuple[int, ...] = ()
    joining: bool = False
    """This node is being added to a running cluster whose bootstrap membership is
    ``voters``/``learners`` (without it): it waits for the leader and never campaigns
    before its own addition is applied."""
    max_inflight_appends: int = 256
    """Appends the leader streams to one follower before waiting for answers (pipelining)."""
    max_inflight_learner_appends: int = 1
    """The same for a learner: a stalled one holds at most this many appends unanswered (each at
    most ``max_append_bytes``: 1 MiB by default), and a learner is sent its next append when one
    is answered, carrying every entry committed since (self-clocked batching: the leader sends
    each learner one append per round trip, not one per Ready as to voters; the store's transport
    lengthens the round trip to a learner by ``TransportConfig.learner_batch_s``, so a put every
    few milliseconds costs the leader one append and one answer per learner per that time, not
    per put). A heartbeat
    answer frees one slot (as etcd's), so a learner answering heartbeats sooner than appends gets
    one more per heartbeat: what a member holds for a peer that reads nothing is bounded by its
    transport instead (the store's: ``TransportConfig.queue_bytes``, 4 MiB, plus one frame; a
    learner behind the compacted log is sent the catch-up snapshot, whose payload the leader
    holds once for every follower still to read it, not once per learner)."""
    max_learner_snapshots: int = 1
    """Snapshots the leader streams to learners at once; a learner needing one meanwhile waits
    for its turn (retried on its heartbeat answers). Learners joining by the hundred then cost
    the leader one snapshot frame at a time, and voters never wait for them. A learner silent
    for an election timeout no longer holds its turn (it may be stopped)."""
    max_entries_per_append: int = 512
    max_append_bytes: int = 1 << 20
    """Entry data per append message (at least one entry is always sent)."""
    max_pending_reads: int = 4096
    """ReadIndex requests waiting for a quorum's confirmation at the leader."""
    pre_vote: bool = True
    """Ask before campaigning, so a node cut off from the cluster does not inflate terms (§9.6)."""
    check_quorum: bool = True
    """A leader that heard no quorum for an election timeout steps down; followers in contact
    with a leader ignore votes (the leader lease, §6.2)."""

    def validate(self) -> None:
        """Raises:
        ConfigError: a setting this node cannot run with.
        """
        if self.node_id <= 0:
            raise ConfigError("raft: node id must be positive")
        if set(self.voters) & set(self.learners):
            raise ConfigError("raft: a member cannot be both voter and learner")
        if not self.voters:
            raise ConfigError("raft: a cluster needs at least one voter")
        member = self.node_id in self.voters or self.node_id in self.learners
        if member == self.joining:
            raise ConfigError(f"raft: node {self.node_id:x} must be a member unless joining, and not both")
        if self.heartbeat_ticks <= 0 or self.election_ticks <= self.heartbeat_ticks:
            raise ConfigError("raft: election_ticks must exceed heartbeat_ticks > 0")
        limits = (self.max_inflight_appends, self.max_inflight_learner_appends, self.max_learner_snapshots,
                  self.max_entries_per_append, self.max_append_bytes, self.max_pending_reads)
        if min(limits) <= 0:
            raise ConfigError("raft: message and queue limits must be positive")
