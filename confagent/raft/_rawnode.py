"""RawNode: the Raft state machine behind a Ready/advance hand-off (pure; no I/O, clock or global random).

The caller owns the disk, the network and the clock, and drives the node:

1. feed it ``tick()`` (time), ``step(msg)`` (the network), ``propose(data)``
   and ``read_index(ctx)`` (clients);
2. while ``has_ready()``: take ``rd = ready()`` and, in this order,
   a. save ``rd.snapshot`` (if any), append ``rd.entries`` and save
      ``rd.hard_state``; fsync when ``rd.must_sync``;
   b. only THEN send ``rd.messages`` (a vote or an append answer promises
      that what it vouches for is on disk) -- unless ``rd.send_before_persist``:
      a leader's Ready may be sent while it is persisted, as long as no message
      is stepped and no other Ready taken until persisting is done;
   c. restore the state machine from ``rd.snapshot`` (if any), then apply
      ``rd.committed`` in order, handing each membership change back through
      ``apply_conf_change``; serve ``rd.read_states`` once applied that far;
   d. call ``advance(rd)``.
   Calling ``ready()`` again before ``advance`` is a programming error.

The same inputs always give the same outputs: randomness (the election timeout)
comes from the ``random.Random`` given at construction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from confagent.errors import ConfigError, NoLeader, Unavailable
from confagent.raft._confchange import ConfChange, ConfChangeType, check_change
from confagent.raft._config import RaftConfig, Role
from confagent.raft._leader import flush, report_snapshot, report_unreachable, transfer_leader
from confagent.raft._leader import read_index as leader_read_index
from confagent.raft._log import RaftLog
from confagent.raft._progress import Progress
from confagent.raft._raft import Raft
from confagent.raft._readonly import ReadState
from confagent.raft._state import SnapshotSource
from confagent.raft._types import (
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
)

__all__ = ["RaftConfig", "RawNode", "Ready", "Role"]


@dataclass(frozen=True, slots=True)
class Ready:
    """What the driver must do next, in the order of the fields' notes."""

    hard_state: HardState | None
    """Save BEFORE messages are sent (after ``snapshot`` and ``entries``); None when unchanged."""
    entries: tuple[Entry, ...]
    """Append to stable storage BEFORE messages are sent; they may replace a suffix
    of the stored log (the first one's index says where)."""
    committed: tuple[Entry, ...]
    """Apply to the state machine, in order, AFTER ``entries`` and ``snapshot`` are durable
    (some may be in ``entries`` of this very Ready)."""
    messages: tuple[Message, ...]
    """Send AFTER ``snapshot``, ``entries`` and ``hard_state`` are durable. The transport
    may drop, delay or reorder them; it should call ``report_unreachable`` and
    ``report_snapshot`` when it knows a send failed."""
    must_sync: bool
    """Whether saving needs an fsync: new entries, a snapshot, or a changed term or vote."""
    snapshot: Snapshot | None = None
    """A leader's snapshot to save FIRST (it replaces the whole log) and to restore the
    state machine from before applying ``committed``. Drop the bytes once restored."""
    read_states: tuple[ReadState, ...] = ()
    """Confirmed linearizable reads: serve each once the state machine applied its index."""
    send_before_persist: bool = False
    """``messages`` may be sent BEFORE (in parallel with) persisting this Ready, the leader's
    own disk write overlapping its followers' (Raft thesis §10.2.1). True only for a leader
    whose Ready changes neither term nor vote, carries no snapshot, and whose commit index
    counts only entries durable before this Ready: its messages then promise nothing about
    its own disk, and no follower learns as committed an entry the leader could still lose.
    (With peers that last condition always holds, as long as the driver steps no message and
    takes no Ready until this one is persisted: only acknowledgements, of entries sent in
    earlier Readys, advance the commit index, never the leader's own append. It fails for a
    lone voter with learners, which commits by its own append.)"""


def _coalesce_proposals(msgs: list[Message], limits: RaftConfig) -> tuple[Message, ...]:
    """Merge each run of PROPOSE messages to one leader into one message, up to a full append
    (``max_entries_per_append``, ``max_append_bytes``): proposals forwarded between two
    Readys travel, and are stepped by the leader, as one."""
    out: list[Message] = []
    run: list[Message] = []
    count = size = 0
    for m in msgs:
        if m.type is not MessageType.PROPOSE:
            _emit_proposals(out, run)
            run = []
            out.append(m)
            continue
        m_size = sum(len(e.data) for e in m.entries)
        if not run or (m.to, m.term) != (run[0].to, run[0].term) or (
                count + len(m.entries) > limits.max_entries_per_append
                or size + m_size > limits.max_append_bytes):
            _emit_proposals(out, run)
            run, count, size = [], 0, 0
        run.append(m)
        count, size = count + len(m.entries), size + m_size
    _emit_proposals(out, run)
    return tuple(out)


def _emit_proposals(out: list[Message], run: list[Message]) -> None:
    if len(run) == 1:
        out.append(run[0])
    elif run:
        first = run[0]
        out.append(Message(MessageType.PROPOSE, first.to, first.frm, first.term,
                           entries=tuple(e for m in run for e in m.entries)))


class RawNode:
    """A Raft peer's protocol state. Not thread-safe: one task owns it."""

    def __init__(
        self,
        config: RaftConfig,
        hard_state: HardState,
        snapshot: SnapshotMeta | None,
        entries: Sequence[Entry],
        rng: random.Random,
        snapshot_source: SnapshotSource | None = None,
    ) -> None:
        """Recover from what the driver persisted (a fresh node: all empty).

        Args:
            snapshot_source: called when a follower needs a snapshot; returns the
                driver's latest one (metadata with the membership at its index,
                and the state machine's bytes). Required unless this node is a
                lone voter.

        Raises:
            ConfigError: a bad config, or peers without a snapshot source.
        """
        config.validate()
        self.config = config
        self._raft = Raft(config, hard_state, snapshot, entries, rng, snapshot_source)
        self._saved = hard_state
        self._outstanding = False
        self._require_snapshot_source(self._raft.tracker.conf_state())

    # -- what the driver may look at ----------------------------------------------------------
    @property
    def term(self) -> int:
        return self._raft.term

    @property
    def vote(self) -> int:
        return self._raft.vote

    @property
    def leader_id(self) -> int:
        """The leader this node follows (itself when leading); 0 when unknown."""
        return self._raft.leader_id

    @property
    def role(self) -> Role:
        return self._raft.role

    @property
    def log(self) -> RaftLog:
        return self._raft.log

    @property
    def conf_state(self) -> ConfState:
        """The membership as applied on this node."""
        return self._raft.tracker.conf_state()

    @property
    def lead_transferee(self) -> int:
        """The voter leadership is being handed to; 0 when none."""
        return self._raft.lead_transferee

    def progress(self, member: int) -> Progress | None:
        """The leader's replication state of ``member`` (read-only use: tests and metrics)."""
        return self._raft.tracker.progress.get(member)

    # -- inputs ----------------------------------------------------------------------------------
    def tick(self) -> None:
        """Advance the logical clock one tick: heartbeats, elections, quorum checks."""
        self._raft.tick()

    def campaign(self) -> None:
        """Stand for election now (a pre-vote first when enabled; a lone voter wins at once)."""
        self._raft.hup()

    def step(self, msg: Message) -> None:
        """Take a message from a peer.

        Raises:
            ConfigError: the message is addressed to another node.
        """
        if msg.to != self.config.node_id:
            raise ConfigError(
                f"raft: message {msg.type.name} to {msg.to:x} stepped on {self.config.node_id:x}")
        self._raft.step(msg)

    def propose(self, data: bytes) -> int:
        """Append ``data`` to the log as a new entry; returns its index, or 0 when forwarded.

        A follower that knows the leader forwards the proposal to it (in the next
        Ready's messages), as etcd's raft does; the index is then unknown here.
        Either way the entry may still be lost (a new leader may overwrite it, a
        forwarded one may be dropped): the caller knows it committed only when its
        data comes back in ``Ready.committed``, and gives up after a timeout.

        Raises:
            NoLeader: no leader is known, or the leader is handing leadership over.
        """
        raft = self._raft
        if raft.role is not Role.LEADER and raft.leader_id != 0:
            raft.send(Message(MessageType.PROPOSE, raft.leader_id, raft.id, raft.term,
                              entries=(Entry(0, 0, EntryType.NORMAL, data),)))
            return 0
        self._require_leader()
        return raft.append_entries([(EntryType.NORMAL, data)])

    def propose_conf_change(self, change: ConfChange) -> int:
        """Propose a membership change; returns the index of its entry.

        Raises:
            NoLeader: this node is not the leader (or is handing over).
            Unavailable: the previous membership change is not applied yet.
            ConfigError: the change is invalid for the current membership, removes
                or demotes this leader (transfer leadership first: a leader gone
                before the others learn the change committed could leave them
                unable to elect anyone), or would give peers to a node without a
                snapshot source.
        """
        self._require_leader()
        raft = self._raft
        if raft.pending_conf_index > raft.log.applied:
            raise Unavailable("raft: a membership change is in progress")
        check_change(self.conf_state, change)
        if change.node_id == raft.id and change.type is not ConfChangeType.ADD_VOTER:
            raise ConfigError("raft: a leader cannot remove or demote itself; transfer leadership first")
        if change.node_id != self.config.node_id:
            self._require_snapshot_source(ConfState(voters=(self.config.node_id, change.node_id)))
        index = raft.append_entries([(EntryType.CONF_CHANGE, change.encode())])
        raft.pending_conf_index = index
        return index

    def apply_conf_change(self, change: ConfChange) -> ConfState:
        """Make an applied membership change take effect here; returns the new membership."""
        return self._raft.apply_conf_change(change)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read; a ``ReadState`` with ``context`` comes in a later Ready.

        ``context`` must be unique among reads in flight. A read is lost if
        leadership changes meanwhile: the caller retries after a timeout.

        Raises:
            NoLeader: no leader is known to forward the read to.
            ResourceExhausted: the leader has too many reads waiting.
        """
        raft = self._raft
        if raft.role is Role.LEADER:
            leader_read_index(raft, raft.id, context)
        elif raft.leader_id != 0:
            raft.send(Message(MessageType.READ_INDEX, raft.leader_id, raft.id, raft.term, context=context))
        else:
            raise NoLeader()

    def transfer_leader(self, target: int) -> None:
        """Hand leadership to voter ``target`` (after catching it up).

        Raises:
            NoLeader: this node is not the leader.
            ConfigError: ``target`` is not a voter.
        """
        if self._raft.role is not Role.LEADER:
            raise NoLeader()
        transfer_leader(self._raft, target)

    def report_unreachable(self, member: int) -> None:
        """The transport failed to send to ``member``: the leader probes it again."""
        report_unreachable(self._raft, member)

    def report_snapshot(self, member: int, *, delivered: bool) -> None:
        """The transport delivered (or failed to deliver) a SNAPSHOT message to ``member``."""
        report_snapshot(self._raft, member, delivered=delivered)

    # -- outputs -----------------------------------------------------------------------------------
    def has_ready(self) -> bool:
        raft, log, saved = self._raft, self._raft.log, self._saved
        return (
            (raft.term, raft.vote, log.committed) != (saved.term, saved.vote, saved.commit)
            or log.stable_index < log.last_index
            or log.pending_snapshot is not None
            or log.applied < log.committed
            or bool(raft.msgs or raft.read_states or raft.broadcast_pending)
        )

    def ready(self) -> Ready:
        """The work to do now (see the module's docstring). Hand it back through ``advance``."""
        assert not self._outstanding, "ready() called again before advance()"
        raft, log = self._raft, self._raft.log
        flush(raft)
        hard_state = self._hard_state()
        changed = hard_state if hard_state != self._saved else None
        entries = log.unstable()
        snapshot = log.pending_snapshot
        vote_changed = (hard_state.term, hard_state.vote) != (self._saved.term, self._saved.vote)
        rd = Ready(
            hard_state=changed,
            entries=entries,
            committed=log.to_apply(),
            messages=(tuple(raft.msgs) if raft.role is Role.LEADER
                      else _coalesce_proposals(raft.msgs, self.config)),
            must_sync=bool(entries) or snapshot is not None or vote_changed,
            snapshot=snapshot,
            read_states=tuple(raft.read_states),
            send_before_persist=(raft.role is Role.LEADER and not vote_changed and snapshot is None
                                 and log.committed <= log.stable_index),
        )
        raft.msgs.clear()
        raft.read_states.clear()
        self._outstanding = True
        return rd

    def advance(self, rd: Ready) -> None:
        """Record that ``rd`` was persisted, sent and applied."""
        self._outstanding = False
        log = self._raft.log
        if rd.hard_state is not None:
            self._saved = rd.hard_state
        if rd.snapshot is not None:
            log.snapshot_applied(rd.snapshot)
        if rd.entries:
            log.stable_to(rd.entries[-1].index, rd.entries[-1].term)
        if rd.committed:
            log.applied_to(max(log.applied, rd.committed[-1].index))

    def compact(self, meta: SnapshotMeta) -> None:
        """Forget log entries covered by a snapshot the driver has saved (at most ``log.applied``)."""
        self._raft.log.compact(meta)

    # -- internals ---------------------------------------------------------------------------------
    def _hard_state(self) -> HardState:
        return HardState(term=self._raft.term, vote=self._raft.vote, commit=self._raft.log.committed)

    def _require_leader(self) -> None:
        raft = self._raft
        if raft.role is not Role.LEADER or raft.lead_transferee != 0 or raft.id not in raft.tracker.voters:
            raise NoLeader()

    def _require_snapshot_source(self, conf: ConfState) -> None:
        lone = conf.voters == (self.config.node_id,) and not conf.learners
        if not lone and self._raft.snapshot_source is None:
            raise ConfigError("raft: a node with peers needs a snapshot_source")
