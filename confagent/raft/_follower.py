"""What followers and (pre-)candidates do with a message of their own term.

Rules:
1. A follower takes the log from the leader of its term (appends, heartbeats,
   snapshots), resets its election clock on each, and answers every one: the
   answer says how far its log now matches, or where to look for the match.
2. A candidate that hears from a leader of its term becomes its follower;
   otherwise it counts the votes of its own kind (pre-vote or vote) only.
3. Answers are queued; the RawNode sends them only after the log and hard
   state they vouch for are persisted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from confagent.raft._config import Role
from confagent.raft._readonly import ReadState
from confagent.raft._types import Message, MessageType, Snapshot

if TYPE_CHECKING:
    from confagent.raft._state import RaftState

__all__ = ["handle_append", "handle_heartbeat", "handle_snapshot", "step_candidate", "step_follower"]


def step_follower(r: RaftState, m: Message) -> None:
    match m.type:
        case MessageType.APPEND:
            _heard_leader(r, m)
            handle_append(r, m)
        case MessageType.HEARTBEAT:
            _heard_leader(r, m)
            handle_heartbeat(r, m)
        case MessageType.SNAPSHOT:
            _heard_leader(r, m)
            handle_snapshot(r, m)
        case MessageType.TIMEOUT_NOW:
            r.hup(transfer=True)
        case MessageType.READ_INDEX_RESPONSE:
            r.read_states.append(ReadState(m.index, m.context))
        case _:
            pass  # late answers to a role this node no longer has


def step_candidate(r: RaftState, m: Message) -> None:
    expected = MessageType.PRE_VOTE_RESPONSE if r.role is Role.PRE_CANDIDATE else MessageType.VOTE_RESPONSE
    match m.type:
        case MessageType.APPEND | MessageType.HEARTBEAT | MessageType.SNAPSHOT:
            r.become_follower(m.term, m.frm)
            step_follower(r, m)
        case MessageType.VOTE_RESPONSE | MessageType.PRE_VOTE_RESPONSE if m.type is expected:
            r.count_vote(m)
        case _:
            pass  # answers to an earlier campaign, or a transfer this node cannot act on now


def _heard_leader(r: RaftState, m: Message) -> None:
    r.election_elapsed = 0
    r.leader_id = m.frm


def handle_append(r: RaftState, m: Message) -> None:
    """Append the leader's entries if the log matches at their predecessor; say how far it matches."""
    if m.index < r.log.committed:
        _answer(r, m.frm, r.log.committed)
        return
    last_new = r.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
    if last_new is not None:
        _answer(r, m.frm, last_new)
        return
    # Reject with a hint: the last entry at or below m.index whose term is at most
    # m.log_term. The leader can skip every entry above it in one round trip.
    hint_index, hint_term = r.log.find_conflict_by_term(m.index, m.log_term)
    r.send(Message(MessageType.APPEND_RESPONSE, m.frm, r.id, r.term, index=m.index, reject=True,
                   reject_hint=hint_index, log_term=hint_term))


def handle_heartbeat(r: RaftState, m: Message) -> None:
    r.log.commit_to(m.commit)  # the leader sends min(commit, what this log is known to match)
    r.send(Message(MessageType.HEARTBEAT_RESPONSE, m.frm, r.id, r.term, context=m.context))


def handle_snapshot(r: RaftState, m: Message) -> None:
    """Replace the log by the leader's snapshot when it is ahead of this node's commit index."""
    assert m.snapshot is not None, "snapshot message without metadata"
    if _restore(r, Snapshot(m.snapshot, m.snapshot_data)):
        _answer(r, m.frm, r.log.last_index)
    else:
        _answer(r, m.frm, r.log.committed)


def _restore(r: RaftState, snapshot: Snapshot) -> bool:
    meta = snapshot.meta
    if meta.index <= r.log.committed:
        return False  # old news (a duplicate, or this node caught up meanwhile)
    if r.log.matches(meta.index, meta.term):
        r.log.commit_to(meta.index)  # the log already holds it: just move the commit mark
        return False
    # A membership without this node is fine: a joining node's addition may come
    # after the snapshot, in the log. An empty one means the driver did not say: keep ours.
    conf = meta.conf_state
    if not conf.voters and not conf.learners:
        conf = r.tracker.conf_state()
    r.log.restore(snapshot)
    r.tracker.reconfigure(conf, next_index=r.log.last_index + 1)
    return True


def _answer(r: RaftState, leader: int, index: int) -> None:
    r.send(Message(MessageType.APPEND_RESPONSE, leader, r.id, r.term, index=index))
