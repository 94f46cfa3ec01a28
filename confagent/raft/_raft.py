"""The Raft protocol state of one node: terms, votes, role changes and the single ``step`` entry point.

Rules:
1. Every message goes through ``step``, which settles terms first, once:
   a higher term makes this node a follower of it (unless it is a vote this
   node must ignore under the leader lease), a lower term is answered or dropped.
2. What a role does with a message is in that role's step function
   (``step_leader``, ``step_candidate``, ``step_follower``), swapped on each
   role change together with the tick function. Each is one ``match``, over
   the state ``Raft`` inherits from ``RaftState`` (``_state``: the fields, and
   the transitions a role may ask for, defined here).
3. Outputs are queued in ``msgs`` and ``read_states``, never performed: the
   RawNode hands them to the driver in a ``Ready`` after what they depend on
   is persisted.
4. Randomness (the election timeout) comes only from the injected ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from confagent.raft._confchange import ConfChange, apply_change
from confagent.raft._config import RaftConfig, Role
from confagent.raft._follower import step_candidate, step_follower
from confagent.raft._leader import (
    abort_transfer,
    after_reconfigure,
    bcast_heartbeat,
    hand_over_if_removed,
    maybe_commit,
    step_leader,
)
from confagent.raft._state import RaftState, SnapshotSource
from confagent.raft._tracker import VoteResult
from confagent.raft._types import ConfState, Entry, EntryType, HardState, Message, MessageType, SnapshotMeta

__all__ = ["CAMPAIGN_TRANSFER", "Raft"]

CAMPAIGN_TRANSFER = b"campaign-transfer"
"""A vote request's context when a leader handed over: voters ignore their leader lease for it."""

StepFunction = Callable[["Raft", Message], None]
TickFunction = Callable[["Raft"], None]


class Raft(RaftState):
    """One node's protocol: its inputs (``step``, ``tick``), elections and role changes.

    Driven by ``RawNode``; not thread-safe.
    """

    def __init__(self, config: RaftConfig, hard_state: HardState, snapshot: SnapshotMeta | None,
                 entries: Sequence[Entry], rng: random.Random,
                 snapshot_source: SnapshotSource | None) -> None:
        super().__init__(config, hard_state, snapshot, entries, rng, snapshot_source)
        self._step: StepFunction = step_follower
        self._tick: TickFunction = tick_election
        self.become_follower(self.term, 0)

    def __repr__(self) -> str:
        return (f"Raft(id={self.id:x}, {self.role.value}, term={self.term}, "
                f"leader={self.leader_id:x}, {self.log!r})")

    # -- inputs ---------------------------------------------------------------------
    def tick(self) -> None:
        self._tick(self)

    def step(self, m: Message) -> None:
        """Take one message from a peer: settle the term, then let the role handle it."""
        if m.type in (MessageType.VOTE, MessageType.PRE_VOTE) and m.frm in self.tracker.learners:
            # A learner never campaigns: one that asks (its membership out of date) is refused and
            # changes no term. Were it promoted meanwhile, it asks again once this member knows.
            pre = m.type is MessageType.PRE_VOTE
            response = MessageType.PRE_VOTE_RESPONSE if pre else MessageType.VOTE_RESPONSE
            self.send(Message(response, m.frm, self.id, self.term, reject=True))
            return
        if m.term > self.term:
            if not self._accept_higher_term(m):
                return
        elif m.term < self.term:
            self._answer_stale(m)
            return
        match m.type:
            case MessageType.VOTE | MessageType.PRE_VOTE:
                self._answer_vote(m)
            case _:
                self._step(self, m)

    def _accept_higher_term(self, m: Message) -> bool:
        if m.type in (MessageType.VOTE, MessageType.PRE_VOTE):
            in_lease = (self.config.check_quorum and self.leader_id != 0
                        and self.election_elapsed < self.config.election_ticks)
            if in_lease and m.context != CAMPAIGN_TRANSFER:
                return False  # a leader is alive: a disruptive candidate gets no answer
        if m.type is MessageType.PRE_VOTE or (m.type is MessageType.PRE_VOTE_RESPONSE and not m.reject):
            return True  # pre-votes are about a term nobody is in yet: ours stays
        leader = m.frm if m.type in (MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT) else 0
        self.become_follower(m.term, leader)
        return True

    def _answer_stale(self, m: Message) -> None:
        if m.type in (MessageType.APPEND, MessageType.HEARTBEAT) and (
                self.config.check_quorum or self.config.pre_vote):
            # A deposed leader (maybe cut off until now) learns the new term and steps down.
            self.send(Message(MessageType.APPEND_RESPONSE, m.frm, self.id, self.term))
        elif m.type is MessageType.PRE_VOTE:
            self.send(Message(MessageType.PRE_VOTE_RESPONSE, m.frm, self.id, self.term, reject=True))

    def _answer_vote(self, m: Message) -> None:
        pre = m.type is MessageType.PRE_VOTE
        response = MessageType.PRE_VOTE_RESPONSE if pre else MessageType.VOTE_RESPONSE
        can_vote = (self.vote == m.frm or (self.vote == 0 and self.leader_id == 0)
                    or (pre and m.term > self.term))
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            # Granted answers carry the candidate's term so it counts them.
            self.send(Message(response, m.frm, self.id, m.term))
            if not pre:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self.send(Message(response, m.frm, self.id, self.term, reject=True))

    # -- elections ------------------------------------------------------------------
    def promotable(self) -> bool:
        """Only a voter of its own (applied) membership may campaign."""
        return self.id in self.tracker.voters

    def hup(self, *, transfer: bool = False) -> None:
        """Start an election (a pre-vote first, unless told to by a leader handing over)."""
        if self.role is Role.LEADER or not self.promotable():
            return
        if self.log.has_conf_change_to_apply():
            return  # the membership may be about to change: apply it first
        self.campaign(pre=self.config.pre_vote and not transfer, transfer=transfer)

    def campaign(self, *, pre: bool, transfer: bool = False) -> None:
        if pre:
            self.become_pre_candidate()
            vote_type, term = MessageType.PRE_VOTE, self.term + 1
        else:
            self.become_candidate()
            vote_type, term = MessageType.VOTE, self.term
        self.tracker.record_vote(self.id, True)
        if self.tracker.vote_result() is VoteResult.WON:
            if pre:
                self.campaign(pre=False, transfer=transfer)
            else:
                self.become_leader()
            return
        context = CAMPAIGN_TRANSFER if transfer else b""
        for voter in sorted(self.tracker.voters - {self.id}):
            self.send(Message(vote_type, voter, self.id, term, index=self.log.last_index,
                              log_term=self.log.last_term, context=context))

    def count_vote(self, m: Message) -> None:
        """A (pre-)vote answer reached the candidate: win, lose, or wait for more."""
        self.tracker.record_vote(m.frm, not m.reject)
        result = self.tracker.vote_result()
        if result is VoteResult.WON:
            if self.role is Role.PRE_CANDIDATE:
                self.campaign(pre=False)
            else:
                self.become_leader()
        elif result is VoteResult.LOST:
            self.become_follower(self.term, 0)

    # -- role changes ---------------------------------------------------------------
    def become_follower(self, term: int, leader_id: int) -> None:
        self._reset(term)
        self._step, self._tick = step_follower, tick_election
        self.role = Role.FOLLOWER
        self.leader_id = leader_id

    def become_pre_candidate(self) -> None:
        assert self.role is not Role.LEADER, "invalid transition leader -> pre-candidate"
        # Term and vote stay: a pre-vote changes nothing a real election would.
        self._step, self._tick = step_candidate, tick_election
        self.tracker.reset_votes()
        self.role = Role.PRE_CANDIDATE
        self.leader_id = 0

    def become_candidate(self) -> None:
        assert self.role is not Role.LEADER, "invalid transition leader -> candidate"
        self._reset(self.term + 1)
        self._step, self._tick = step_candidate, tick_election
        self.vote = self.id
        self.role = Role.CANDIDATE

    def become_leader(self) -> None:
        assert self.role is not Role.FOLLOWER, "invalid transition follower -> leader"
        self._reset(self.term)
        self._step, self._tick = step_leader, tick_heartbeat
        self.role = Role.LEADER
        self.leader_id = self.id
        own = self.tracker.progress[self.id]
        own.become_replicate()
        own.recent_active = True
        # No membership change until everything in the log so far is applied (the
        # new leader's empty entry below included): one change at a time stays true.
        self.pending_conf_index = self.log.last_index
        self.append_entries([(EntryType.NORMAL, b"")])

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term, self.vote = term, 0
        self.leader_id = 0
        self.election_elapsed = self.heartbeat_elapsed = 0
        self.randomized_election_ticks = self.config.election_ticks + self._rng.randrange(
            self.config.election_ticks)
        abort_transfer(self)
        self.tracker.reset_votes()
        for member, progress in self.tracker.progress.items():
            progress.reset(self.log.last_index if member == self.id else 0, self.log.last_index + 1)
        self.pending_conf_index = 0
        self.read_only.clear()
        self.deferred_reads.clear()
        self.broadcast_pending = False

    # -- the leader's log writes --------------------------------------------------------
    def append_entries(self, payloads: Sequence[tuple[EntryType, bytes]]) -> int:
        """Append entries of this term (the leader's own log); the index of the last one."""
        first = self.log.last_index + 1
        self.log.append([Entry(self.term, first + i, kind, data) for i, (kind, data) in enumerate(payloads)])
        self.tracker.progress[self.id].acknowledged(self.log.last_index)
        if self.tracker.quorum() == 1:
            # Only a lone voter commits by its own append: no other member holds entries past
            # the old last index, so with peers the quorum's index cannot move here.
            maybe_commit(self)
        self.broadcast_pending = True  # sent once per Ready: proposals batch into one append
        return self.log.last_index

    # -- membership -------------------------------------------------------------------
    def apply_conf_change(self, change: ConfChange) -> ConfState:
        """Adopt a committed membership change the driver has just applied."""
        conf = apply_change(self.tracker.conf_state(), change)
        self.tracker.reconfigure(conf, next_index=self.log.last_index + 1)
        if self.role is Role.LEADER:
            after_reconfigure(self)
        return conf


def tick_election(r: Raft) -> None:
    """Followers and candidates: campaign when no leader was heard for the randomized timeout."""
    r.election_elapsed += 1
    if r.promotable() and r.election_elapsed >= r.randomized_election_ticks:
        r.election_elapsed = 0
        r.hup()


def tick_heartbeat(r: Raft) -> None:
    """The leader: heartbeats, the quorum check, and the deadline of a leadership transfer."""
    r.heartbeat_elapsed += 1
    r.election_elapsed += 1
    if r.election_elapsed >= r.config.election_ticks:
        r.election_elapsed = 0
        if r.config.check_quorum:
            if not r.tracker.quorum_active(r.id):
                r.become_follower(r.term, 0)
                return
            r.tracker.reset_recent_active(r.id)
        abort_transfer(r)
        hand_over_if_removed(r)  # the last hand-over timed out: try again
    if r.heartbeat_elapsed >= r.config.heartbeat_ticks:
        r.heartbeat_elapsed = 0
        bcast_heartbeat(r, r.read_only.last_context() or b"")
