"""RawNode: the Raft state machine behind a Ready/advance hand-off (pure; no I/O, clock or global random).

The caller owns the disk, the network and the clock, and drives the node:

1. feed it ``tick()`` (time), ``step(msg)`` (the network) and ``propose(data)`` (clients);
2. while ``has_ready()``: take ``rd = ready()``, persist ``rd.hard_state`` and
   ``rd.entries`` (fsync when ``rd.must_sync``), only THEN send ``rd.messages``,
   apply ``rd.committed`` in order, and call ``advance(rd)``.

The same inputs always give the same outputs: randomness (the election timeout)
comes from the ``random.Random`` given at construction.

This version runs one-member clusters (the embedded store on one node): the
node elects itself, and an entry commits once it is in its own log. Messages
to peers, pre-vote and membership changes arrive with multi-node Raft.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from confagent.errors import ConfigError, NoLeader
from confagent.raft._log import RaftLog
from confagent.raft._types import Entry, EntryType, HardState, Message, SnapshotMeta

__all__ = ["RaftConfig", "RawNode", "Ready", "Role"]


class Role(Enum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """One node's Raft settings. Times are in ticks; the driver decides how long a tick is."""

    node_id: int
    voters: tuple[int, ...]
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    max_inflight_entries: int = 4096

    def validate(self) -> None:
        if self.node_id == 0:
            raise ConfigError("raft: node id must not be 0")
        if self.node_id not in self.voters:
            raise ConfigError(f"raft: node {self.node_id:x} is not among the voters")
        if len(self.voters) != 1:
            raise ConfigError("raft: this build runs one-member clusters only")
        if self.heartbeat_ticks <= 0 or self.election_ticks <= self.heartbeat_ticks:
            raise ConfigError("raft: election_ticks must exceed heartbeat_ticks > 0")


@dataclass(frozen=True, slots=True)
class Ready:
    """What the driver must do next, in this order."""

    hard_state: HardState | None
    """Persist BEFORE messages are sent; None when unchanged."""
    entries: tuple[Entry, ...]
    """Append to stable storage BEFORE messages are sent."""
    committed: tuple[Entry, ...]
    """Apply to the state machine, in order, AFTER ``entries`` are durable."""
    messages: tuple[Message, ...]
    """Send AFTER ``hard_state`` and ``entries`` are durable."""
    must_sync: bool
    """Whether persisting needs an fsync (new entries, or a vote/term change)."""


class RawNode:
    """A Raft peer's protocol state. Not thread-safe: one task owns it."""

    def __init__(
        self,
        config: RaftConfig,
        hard_state: HardState,
        snapshot: SnapshotMeta | None,
        entries: Sequence[Entry],
        rng: random.Random,
    ) -> None:
        config.validate()
        self.config = config
        self._rng = rng
        self.log = RaftLog(snapshot, entries, hard_state.commit)
        self.term = hard_state.term
        self.vote = hard_state.vote
        self.role = Role.FOLLOWER
        self.leader_id = 0
        self._elapsed = 0
        self._timeout = self._random_timeout()
        self._saved = hard_state

    # -- inputs -----------------------------------------------------------------
    def tick(self) -> None:
        """Advance the logical clock one tick; a follower that heard nothing campaigns."""
        self._elapsed += 1
        if self.role is not Role.LEADER and self._elapsed >= self._timeout:
            self.campaign()

    def campaign(self) -> None:
        """Stand for election now (a single voter wins at once)."""
        self.role = Role.CANDIDATE
        self.term += 1
        self.vote = self.config.node_id
        self._elapsed = 0
        self._timeout = self._random_timeout()
        self._become_leader()

    def step(self, msg: Message) -> None:
        """Take a message from a peer. A one-member cluster has no peers to hear from."""
        raise ConfigError(f"raft: message from unknown peer {msg.frm:x}")

    def propose(self, data: bytes) -> int:
        """Append ``data`` to the log as a new entry; returns its index.

        Raises:
            NoLeader: this node is not the leader, so the proposal is dropped.
        """
        if self.role is not Role.LEADER:
            raise NoLeader()
        index = self.log.last_index + 1
        self.log.append((Entry(term=self.term, index=index, data=data),))
        self._maybe_commit()
        return index

    # -- outputs ----------------------------------------------------------------
    def has_ready(self) -> bool:
        return (
            self._hard_state() != self._saved
            or self.log.stable_index < self.log.last_index
            or self.log.applied < self.log.committed
        )

    def ready(self) -> Ready:
        """The work to do now. Hand it back through ``advance`` once done."""
        hard_state = self._hard_state()
        entries = self.log.unstable()
        changed = hard_state if hard_state != self._saved else None
        must_sync = bool(entries) or (
            changed is not None and (changed.term, changed.vote) != (self._saved.term, self._saved.vote)
        )
        return Ready(changed, entries, self.log.to_apply(), (), must_sync)

    def advance(self, rd: Ready) -> None:
        """Record that ``rd`` was persisted, sent and applied."""
        if rd.hard_state is not None:
            self._saved = rd.hard_state
        if rd.entries:
            self.log.stable_to(rd.entries[-1].index)
        if rd.committed:
            self.log.applied_to(rd.committed[-1].index)

    def compact(self, meta: SnapshotMeta) -> None:
        """Forget log entries covered by a snapshot the driver has saved."""
        self.log.compact(meta)

    # -- internals --------------------------------------------------------------
    def _become_leader(self) -> None:
        self.role = Role.LEADER
        self.leader_id = self.config.node_id
        # The leader's first entry of its term: it commits everything before it.
        index = self.log.last_index + 1
        self.log.append((Entry(term=self.term, index=index, type=EntryType.NORMAL, data=b""),))
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        # A single voter is its own quorum: its last entry is committed once persisted,
        # and Ready's order (persist, then apply) guarantees that.
        self.log.commit_to(self.log.last_index)

    def _hard_state(self) -> HardState:
        return HardState(term=self.term, vote=self.vote, commit=self.log.committed)

    def _random_timeout(self) -> int:
        base = self.config.election_ticks
        return base + self._rng.randrange(base)
