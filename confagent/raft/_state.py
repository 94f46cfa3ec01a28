"""The protocol state of one Raft node, and the transitions its role step functions may ask for.

Rules:
1. ``RaftState`` holds every field of the state (all set in ``__init__``):
   ``Raft`` and the role step functions (``_follower``, ``_leader``) read and
   write them in place.
2. A role step function changes role or term only through the four
   transitions declared here (``become_follower``, ``hup``, ``count_vote``,
   ``append_entries``); ``Raft`` defines them, because a transition swaps the
   step functions. So the modules import one way: ``_raft`` -> the roles ->
   ``_state``, and no role module needs ``Raft`` itself.
3. Outputs are queued (``send`` appends to ``msgs``), never performed.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from confagent.raft._config import RaftConfig, Role
from confagent.raft._log import RaftLog
from confagent.raft._readonly import ReadOnly, ReadState
from confagent.raft._tracker import ProgressTracker
from confagent.raft._types import ConfState, Entry, EntryType, HardState, Message, Snapshot, SnapshotMeta

__all__ = ["RaftState", "SnapshotSource"]

SnapshotSource = Callable[[], Snapshot | None]
"""The driver's latest snapshot, asked for by a leader that must catch a follower up; None while
it is not at hand (being read or encoded elsewhere: etcd's ``ErrSnapshotTemporarilyUnavailable``),
and the leader asks again at the follower's next heartbeat answer."""


class RaftState(ABC):
    """One node's protocol state (rule 1) and the transitions a role may ask for (rule 2)."""

    def __init__(self, config: RaftConfig, hard_state: HardState, snapshot: SnapshotMeta | None,
                 entries: Sequence[Entry], rng: random.Random,
                 snapshot_source: SnapshotSource | None) -> None:
        self.id = config.node_id
        self.config = config
        self.snapshot_source = snapshot_source
        self._rng = rng
        self.log = RaftLog(snapshot, entries, hard_state.commit)
        self.term = hard_state.term
        self.vote = hard_state.vote
        known = snapshot.conf_state if snapshot is not None else ConfState()
        if not known.voters and not known.learners:
            known = ConfState(voters=config.voters, learners=config.learners)
        self.tracker = ProgressTracker(known, config.max_inflight_appends,
                                       config.max_inflight_learner_appends)
        self.role = Role.FOLLOWER
        self.leader_id = 0
        self.lead_transferee = 0
        self.pending_conf_index = 0
        self.read_only = ReadOnly()
        self.deferred_reads: list[tuple[int, bytes]] = []
        self.read_states: list[ReadState] = []
        self.msgs: list[Message] = []
        self.broadcast_pending = False
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_ticks = 0

    def send(self, m: Message) -> None:
        assert m.to != self.id, f"a message to itself: {m}"
        self.msgs.append(m)

    @abstractmethod
    def become_follower(self, term: int, leader_id: int) -> None:
        """Follow ``leader_id`` (0: none known) in ``term``."""

    @abstractmethod
    def hup(self, *, transfer: bool = False) -> None:
        """Start an election (a pre-vote first, unless told to by a leader handing over)."""

    @abstractmethod
    def count_vote(self, m: Message) -> None:
        """A (pre-)vote answer reached the candidate: win, lose, or wait for more."""

    @abstractmethod
    def append_entries(self, payloads: Sequence[tuple[EntryType, bytes]]) -> int:
        """Append entries of this term (the leader's own log); the index of the last one."""
