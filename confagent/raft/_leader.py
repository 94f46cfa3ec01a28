"""What the leader does: replicate its log, commit by quorum, confirm reads, hand leadership over.

Rules:
1. Each follower is sent appends according to its ``Progress``: one probe at
   a time while its log end is unknown, a bounded stream once it is, a
   snapshot when the entries it needs are compacted away. Learners take turns
   for snapshots (``max_learner_snapshots`` at once, counting only learners
   heard from within the last election timeout); voters never wait. A snapshot
   the driver does not have at hand yet (its source answers None) is asked for
   again at the follower's next heartbeat answer; nothing else changes meanwhile.
2. A rejected append carries a hint (the follower's last entry whose term is
   at most the one asked about); the leader skips to the matching term at once.
3. An entry is committed once a quorum of voters holds it AND it is of the
   leader's current term (§5.4.2); earlier entries commit with it.
4. Proposals and commit news are sent once per Ready (``broadcast_pending``),
   so many proposals between two Readys travel in one append per follower.
5. A learner is sent committed entries only: it never counts towards a
   commit, so each entry reaches it once, with the commit index that lets it
   apply it, in the append that tells the voters the entry committed (voters
   get the entry, then the commit news: two appends and two answers per Ready
   where a learner costs one of each). A replicating learner is never sent an
   empty append: its commit index comes with its entries, or with heartbeats.
6. A learner's answer never moves the commit index, so it is not weighed for
   one; a follower with nothing to be sent costs one comparison. Learners at
   one position are sent one entries tuple (``RaftLog.slice``), encoded once
   by the peer transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from confagent.errors import ConfigError, ResourceExhausted
from confagent.raft._config import Role
from confagent.raft._progress import Progress, ProgressState
from confagent.raft._readonly import ReadState
from confagent.raft._types import Entry, EntryType, Message, MessageType

if TYPE_CHECKING:
    from confagent.raft._state import RaftState

__all__ = [
    "abort_transfer",
    "after_reconfigure",
    "bcast_append",
    "bcast_heartbeat",
    "flush",
    "hand_over_if_removed",
    "maybe_commit",
    "maybe_send_append",
    "read_index",
    "report_snapshot",
    "report_unreachable",
    "step_leader",
    "transfer_leader",
]


def step_leader(r: RaftState, m: Message) -> None:
    progress = r.tracker.progress.get(m.frm)
    match m.type:
        case MessageType.APPEND_RESPONSE if progress is not None:
            progress.recent_active = True
            if m.reject:
                _handle_rejection(r, m, progress)
            else:
                _handle_acceptance(r, m, progress)
        case MessageType.HEARTBEAT_RESPONSE if progress is not None:
            _handle_heartbeat_response(r, m, progress)
        case MessageType.PROPOSE if progress is not None:
            # A follower's forwarded proposal: normal entries only (membership changes are
            # proposed to the leader directly), refused while leadership is handed over.
            if r.lead_transferee == 0 and all(e.type is EntryType.NORMAL for e in m.entries):
                r.append_entries([(e.type, e.data) for e in m.entries])
        case MessageType.READ_INDEX if progress is not None:
            if len(r.read_only) + len(r.deferred_reads) < r.config.max_pending_reads:
                read_index(r, m.frm, m.context)
        case _:
            pass  # a non-member's message, or one a leader has no use for


# -- replication ---------------------------------------------------------------------------
def _handle_rejection(r: RaftState, m: Message, progress: Progress) -> None:
    match_hint = m.reject_hint
    if m.log_term > 0:
        # Skip every entry of ours whose term is above the follower's hint term.
        match_hint, _ = r.log.find_conflict_by_term(m.reject_hint, m.log_term)
    if progress.rejected(m.index, match_hint):
        if progress.state is ProgressState.REPLICATE:
            progress.become_probe()
        maybe_send_append(r, m.frm, send_if_empty=True)


def _handle_acceptance(r: RaftState, m: Message, progress: Progress) -> None:
    was_paused = progress.is_paused()
    news = progress.acknowledged(m.index)
    # A probe at the follower's exact log end brings no news but proves where it ends.
    probe_answered = progress.state is ProgressState.PROBE and m.index == progress.match == progress.next - 1
    if not news and not probe_answered:
        return
    if progress.state is ProgressState.PROBE:
        progress.become_replicate()
    elif progress.state is ProgressState.SNAPSHOT:
        if progress.match + 1 < r.log.first_index:
            return  # still behind the compacted log: the snapshot is yet to land
        progress.become_replicate()
    else:
        progress.inflights.free_to(m.index)
    if not progress.is_learner and maybe_commit(r):  # rule 6
        r.broadcast_pending = True
    elif was_paused:
        maybe_send_append(r, m.frm, send_if_empty=True)
    while maybe_send_append(r, m.frm, send_if_empty=False):
        pass
    if m.frm == r.lead_transferee and progress.match == r.log.last_index:
        r.send(Message(MessageType.TIMEOUT_NOW, m.frm, r.id, r.term))


def _handle_heartbeat_response(r: RaftState, m: Message, progress: Progress) -> None:
    progress.recent_active = True
    progress.probe_sent = False
    if progress.state is ProgressState.REPLICATE and progress.inflights.full():
        progress.inflights.free_first()  # the follower is alive: let one more append go
    if progress.match < (r.log.committed if progress.is_learner else r.log.last_index):
        maybe_send_append(r, m.frm, send_if_empty=True)
    if not m.context:
        return
    acks = r.read_only.ack(m.context, m.frm)
    if acks is not None and r.tracker.has_quorum(acks | {r.id}):
        for context, read in r.read_only.release(m.context):
            _answer_read(r, read.requester, read.index, context)


def maybe_send_append(r: RaftState, to: int, *, send_if_empty: bool) -> bool:
    """Send ``to`` the entries it needs next (or a snapshot); whether something was sent."""
    progress = r.tracker.progress[to]
    last = r.log.committed if progress.is_learner else r.log.last_index  # rule 5
    if progress.next > last and (not send_if_empty or
                                 (progress.is_learner and progress.state is ProgressState.REPLICATE)):
        return False  # nothing to send (rule 6); ``next - 1 >= committed``, so it is not compacted
    if progress.is_paused():
        return False
    prev_index = progress.next - 1
    prev_term = r.log.term_at(prev_index)
    if prev_term is None:
        return _send_snapshot(r, to, progress)
    entries: tuple[Entry, ...] = ()
    if progress.next <= last:
        high = min(last + 1, progress.next + r.config.max_entries_per_append)
        entries = r.log.slice(progress.next, high, r.config.max_append_bytes)
    r.send(Message(MessageType.APPEND, to, r.id, r.term, index=prev_index, log_term=prev_term,
                   entries=entries, commit=r.log.committed))
    progress.sent_entries(len(entries), entries[-1].index if entries else prev_index)
    return True


def _send_snapshot(r: RaftState, to: int, progress: Progress) -> bool:
    if not progress.recent_active:
        return False  # no use shipping a snapshot to a node that does not answer
    if progress.is_learner and _learner_snapshots(r) >= r.config.max_learner_snapshots:
        return False  # its turn comes on a later heartbeat answer (rule 1)
    assert r.snapshot_source is not None, "a leader with peers needs a snapshot source"
    snapshot = r.snapshot_source()
    if snapshot is None:
        return False  # not at hand yet: asked again at the follower's next heartbeat answer (rule 1)
    assert snapshot.meta.index >= r.log.offset, "the snapshot source is behind the compacted log"
    # The data leaves the core in the next Ready: it is held no longer than that.
    r.send(Message(MessageType.SNAPSHOT, to, r.id, r.term, snapshot=snapshot.meta,
                   snapshot_data=snapshot.data))
    progress.become_snapshot(snapshot.meta.index)
    return True


def _learner_snapshots(r: RaftState) -> int:
    """Learners the leader is streaming a snapshot to, and heard from lately."""
    return sum(1 for _, p in r.tracker.peers(r.id)
               if p.is_learner and p.state is ProgressState.SNAPSHOT and p.recent_active)


def bcast_append(r: RaftState) -> None:
    """Send every follower what it lacks, as far as its flow control allows (pipelining)."""
    for member, progress in r.tracker.peers(r.id):
        if maybe_send_append(r, member, send_if_empty=True):
            last = r.log.committed if progress.is_learner else r.log.last_index
            while progress.next <= last and maybe_send_append(r, member, send_if_empty=False):
                pass


def bcast_heartbeat(r: RaftState, context: bytes) -> None:
    for member, progress in r.tracker.peers(r.id):
        # Never tell a follower a commit index beyond what its log is known to match.
        commit = min(progress.match, r.log.committed)
        r.send(Message(MessageType.HEARTBEAT, member, r.id, r.term, commit=commit, context=context))


def flush(r: RaftState) -> None:
    """Send what proposals and commits since the last Ready call for, in one append per follower."""
    if r.broadcast_pending and r.role is Role.LEADER:
        bcast_append(r)
    r.broadcast_pending = False


def maybe_commit(r: RaftState) -> bool:
    """Advance the commit index to what a quorum holds, if that entry is of this term."""
    index = r.tracker.committed_index()
    if index <= r.log.committed or r.log.term_at(index) != r.term:
        return False
    first_of_term = r.log.term_at(r.log.committed) != r.term
    r.log.commit_to(index)
    if first_of_term:
        deferred, r.deferred_reads = r.deferred_reads, []
        for requester, context in deferred:
            read_index(r, requester, context)
    return True


# -- reads -----------------------------------------------------------------------------------
def read_index(r: RaftState, requester: int, context: bytes) -> None:
    """Confirm leadership for a read asked by ``requester`` (maybe this node), then answer it.

    Raises:
        ResourceExhausted: too many reads wait already (only for this node's own reads).
    """
    if requester == r.id and len(r.read_only) + len(r.deferred_reads) >= r.config.max_pending_reads:
        raise ResourceExhausted()
    if r.tracker.voters == {r.id}:
        _answer_read(r, requester, r.log.committed, context)  # a lone voter is its own quorum
    elif r.log.term_at(r.log.committed) != r.term:
        r.deferred_reads.append((requester, context))  # commit index not known yet
    elif r.read_only.add(context, r.log.committed, requester):
        bcast_heartbeat(r, context)


def _answer_read(r: RaftState, requester: int, index: int, context: bytes) -> None:
    if requester == r.id:
        r.read_states.append(ReadState(index, context))
    else:
        r.send(Message(MessageType.READ_INDEX_RESPONSE, requester, r.id, r.term, index=index,
                       context=context))


# -- leadership transfer -----------------------------------------------------------------------
def transfer_leader(r: RaftState, target: int) -> None:
    """Hand leadership to ``target`` once its log is complete; it must happen within an election timeout.

    Raises:
        ConfigError: ``target`` is not a voter.
    """
    if target not in r.tracker.voters:
        raise ConfigError(f"raft: cannot transfer leadership to {target:x}, not a voter")
    if target in (r.id, r.lead_transferee):
        return
    r.lead_transferee = target
    r.election_elapsed = 0
    if r.tracker.progress[target].match == r.log.last_index:
        r.send(Message(MessageType.TIMEOUT_NOW, target, r.id, r.term))
    else:
        maybe_send_append(r, target, send_if_empty=True)


def abort_transfer(r: RaftState) -> None:
    r.lead_transferee = 0


# -- reports from the driver and membership --------------------------------------------------
def report_unreachable(r: RaftState, member: int) -> None:
    """The transport could not reach ``member``: stop streaming to it and probe again."""
    progress = r.tracker.progress.get(member)
    if r.role is Role.LEADER and progress is not None and progress.state is ProgressState.REPLICATE:
        progress.become_probe()


def report_snapshot(r: RaftState, member: int, *, delivered: bool) -> None:
    """The transport finished sending a snapshot to ``member`` (or gave up)."""
    progress = r.tracker.progress.get(member)
    if r.role is not Role.LEADER or progress is None or progress.state is not ProgressState.SNAPSHOT:
        return
    if not delivered:
        progress.pending_snapshot = 0
    progress.become_probe()
    progress.probe_sent = True  # wait for the follower's answer or a heartbeat before probing


def after_reconfigure(r: RaftState) -> None:
    """The leader's duties after a membership change took effect."""
    if r.lead_transferee not in r.tracker.voters:
        abort_transfer(r)
    hand_over_if_removed(r)
    maybe_commit(r)  # the quorum may have shrunk
    r.broadcast_pending = True  # new members get probed, everyone learns the commit index


def hand_over_if_removed(r: RaftState) -> None:
    """A leader removed (or demoted) keeps leading until a voter takes over.

    Stepping down at once could leave the remaining voters unaware that the
    change committed, and unable to elect anyone without the removed node's
    vote. So it replicates on (under the new membership's quorum) and hands
    leadership to the most caught-up voter; it takes no proposals meanwhile.
    """
    if r.id in r.tracker.voters or r.lead_transferee != 0:
        return
    target = max(r.tracker.voters, key=lambda v: (r.tracker.progress[v].match, -v))
    transfer_leader(r, target)
