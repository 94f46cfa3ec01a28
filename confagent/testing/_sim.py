"""A seeded, in-memory Raft cluster: RawNodes over a faulty network, each with a simulated disk.

Rules:
1. Every decision (drop, duplicate, delay, crash points, the nodes' election
   timeouts) is drawn from one ``random.Random(seed)``: the same seed and the
   same calls give the same run, so a failure replays from its seed.
2. A node's ``SimDisk`` holds only what its Readys asked to persist, written in
   the contract's order (snapshot, entries, hard state). A crash loses the rest:
   the RawNode, the state machine, and the messages of a Ready not yet sent.
3. A Ready's messages leave only after it is persisted, unless it says
   ``send_before_persist`` (a leader's): they leave first, and a crash point
   can then strike with them sent and nothing persisted. The network may
   drop, duplicate or delay them (delays reorder), never carries one across a
   cut link or into a crashed node, and reports such losses to the sender the
   way a transport would (``report_unreachable``, ``report_snapshot``).
4. A stalled node (``stall``: a process stopped by SIGSTOP) neither ticks nor
   reads: what is sent to it is held, neither delivered nor reported lost (as
   the kernel's buffers hold it), and reaches it in order on ``resume``.
5. A node in ``snapshots_unavailable`` has no snapshot at hand: its snapshot
   source answers None, as a driver's whose snapshot is still being read or
   encoded elsewhere.
6. The cluster checks nothing itself: an observer is told about every
   persisted Ready, applied entry, restored snapshot and confirmed read, and is
   called after every event to check its invariants.

The scenario (what to propose, when to crash, cut or change membership) is
the caller's: see tests/raft/test_sim.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from confagent.raft import (
    ConfChange,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    RaftConfig,
    RawNode,
    ReadState,
    Ready,
    Snapshot,
    SnapshotMeta,
    SnapshotSource,
)

__all__ = ["CrashPoint", "NetworkFaults", "SimCluster", "SimDisk", "SimNode", "SimObserver", "StateMachine"]

_DIGEST_BYTES = 32
_DELIVERIES_PER_TICK_MAX = 100_000


@dataclass(frozen=True, slots=True)
class NetworkFaults:
    """What the network and the nodes do wrong; all zero is a perfect network."""

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay_ticks_max: int = 0
    crash_in_ready_rate: float = 0.0
    """Chance that a node dies while handling one Ready (before, during or after persisting it)."""


class CrashPoint(Enum):
    BEFORE_PERSIST = "before-persist"
    AFTER_ENTRIES = "after-entries"  # snapshot and entries written, hard state not
    AFTER_PERSIST = "after-persist"  # all written, no message sent


class SimDisk:
    """What one node persisted. Survives crashes; only Readys (and local snapshots) write it."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []

    def save(self, rd: Ready, *, with_hard_state: bool = True) -> None:
        if rd.snapshot is not None:
            self.snapshot = rd.snapshot
            self.entries = []
        if rd.entries:
            first = rd.entries[0].index
            self.entries = [e for e in self.entries if e.index < first]
            self.entries.extend(rd.entries)
        if with_hard_state and rd.hard_state is not None:
            self.hard_state = rd.hard_state

    def save_local_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.entries = [e for e in self.entries if e.index > snapshot.meta.index]

    def snapshot_meta(self) -> SnapshotMeta | None:
        return self.snapshot.meta if self.snapshot is not None else None


@dataclass(slots=True)
class StateMachine:
    """The replicated state: a hash chain over every applied entry, and the membership."""

    applied: int = 0
    digest: bytes = bytes(_DIGEST_BYTES)
    conf_state: ConfState = field(default_factory=ConfState)

    def apply(self, entry: Entry) -> None:
        assert entry.index == self.applied + 1, f"applying {entry.index} after {self.applied}"
        chain = hashlib.sha256(self.digest)
        chain.update(b"%d/%d/%d/" % (entry.index, entry.term, entry.type))
        chain.update(entry.data)
        self.applied, self.digest = entry.index, chain.digest()

    def encode(self) -> bytes:
        return self.applied.to_bytes(8, "big") + self.digest

    @classmethod
    def restore(cls, snapshot: Snapshot) -> StateMachine:
        applied = int.from_bytes(snapshot.data[:8], "big")
        assert applied == snapshot.meta.index, "snapshot data and metadata disagree"
        return cls(applied, snapshot.data[8:], snapshot.meta.conf_state)


class SimObserver:
    """Told what happens in a cluster; override what you check (the default ignores all)."""

    def persisting(self, cluster: SimCluster, node_id: int, rd: Ready) -> None:
        """``rd`` is about to be written; the node's RawNode still holds its entries."""

    def applied(self, cluster: SimCluster, node_id: int, entry: Entry, machine: StateMachine) -> None:
        """``entry`` was applied; ``machine`` is the state after it."""

    def restored(self, cluster: SimCluster, node_id: int, machine: StateMachine) -> None:
        """A node's state machine was replaced by a snapshot (from a leader or its own disk)."""

    def read(self, cluster: SimCluster, node_id: int, state: ReadState) -> None:
        """A linearizable read was confirmed at ``state.index``."""

    def stepped(self, cluster: SimCluster) -> None:
        """An event (a tick, a delivery, a crash) has been fully handled."""


@dataclass(slots=True)
class SimNode:
    """One member's process: its disk always, its RawNode and state machine while it runs."""

    node_id: int
    config: RaftConfig
    disk: SimDisk = field(default_factory=SimDisk)
    raw: RawNode | None = None
    machine: StateMachine | None = None

    @property
    def alive(self) -> bool:
        return self.raw is not None


class SimCluster:
    """N RawNodes, their disks and the network between them, all driven from one seed.

    Every node runs ``base_config`` (ticks, limits, pre-vote, check-quorum) with
    its own id and the bootstrap membership ``voters``.
    """

    def __init__(self, rng: random.Random, voters: Iterable[int], *, faults: NetworkFaults = NetworkFaults(),
                 observer: SimObserver | None = None, snapshot_entries: int = 50,
                 base_config: RaftConfig | None = None) -> None:
        self.rng = rng
        self.faults = faults
        self.observer = observer or SimObserver()
        self.snapshot_entries = snapshot_entries
        self.bootstrap = tuple(sorted(voters))
        self.base_config = base_config or RaftConfig(node_id=1, voters=(1,))
        self.now = 0
        self.nodes: dict[int, SimNode] = {}
        self.cut_links: set[frozenset[int]] = set()
        self.stalled: set[int] = set()
        self.held: list[Message] = []
        """Messages to stalled nodes, in the order they arrived (rule 4)."""
        self.snapshots_unavailable: set[int] = set()
        """Nodes whose snapshot source answers None (rule 5)."""
        self._in_flight: list[tuple[int, int, Message]] = []
        self._sequence = itertools.count()
        for node_id in self.bootstrap:
            self.add_node(node_id)

    # -- processes ---------------------------------------------------------------------------------
    def add_node(self, node_id: int) -> SimNode:
        """Start a brand-new process (a bootstrap member, or one joining through a membership change)."""
        assert node_id not in self.nodes, f"node {node_id} exists"
        config = dataclasses.replace(self.base_config, node_id=node_id, voters=self.bootstrap,
                                     learners=(), joining=node_id not in self.bootstrap)
        node = self.nodes[node_id] = SimNode(node_id, config)
        self.restart(node_id)
        return node

    def restart(self, node_id: int) -> None:
        """Start a crashed process again from what its disk holds."""
        node = self.nodes[node_id]
        assert node.raw is None, f"node {node_id} is running"
        disk = node.disk
        meta = disk.snapshot_meta()
        entries = [e for e in disk.entries if meta is None or e.index > meta.index]
        rng = random.Random(self.rng.getrandbits(64))
        node.raw = RawNode(node.config, disk.hard_state, meta, entries, rng,
                           snapshot_source=self._snapshot_source(node))
        if disk.snapshot is not None:
            node.machine = StateMachine.restore(disk.snapshot)
            self.observer.restored(self, node_id, node.machine)
        else:
            node.machine = StateMachine(conf_state=node.raw.conf_state)
        self.handle_ready(node_id)

    def crash(self, node_id: int) -> None:
        """Kill a process: everything not on its disk is gone."""
        node = self.nodes[node_id]
        node.raw, node.machine = None, None

    def remove_node(self, node_id: int) -> None:
        """Stop a process for good (a member removed from the cluster)."""
        self.crash(node_id)
        del self.nodes[node_id]

    def _snapshot_source(self, node: SimNode) -> SnapshotSource:
        def latest() -> Snapshot | None:
            if node.node_id in self.snapshots_unavailable:
                return None
            assert node.disk.snapshot is not None, "asked for a snapshot before any was taken"
            return node.disk.snapshot
        return latest

    def alive(self) -> list[SimNode]:
        return [n for _, n in sorted(self.nodes.items()) if n.raw is not None]

    def running(self, node_id: int) -> RawNode:
        raw = self.nodes[node_id].raw
        assert raw is not None, f"node {node_id} is down"
        return raw

    # -- the network -------------------------------------------------------------------------------
    def cut(self, a: int, b: int) -> None:
        self.cut_links.add(frozenset((a, b)))

    def partition(self, *groups: Iterable[int]) -> None:
        """Cut every link between nodes of different groups."""
        sets = [set(g) for g in groups]
        for i, left in enumerate(sets):
            for right in sets[i + 1:]:
                for a in left:
                    for b in right:
                        self.cut(a, b)

    def heal(self) -> None:
        self.cut_links.clear()

    def stall(self, node_id: int) -> None:
        """Stop ``node_id`` as SIGSTOP does (rule 4)."""
        self.stalled.add(node_id)

    def resume(self, node_id: int) -> None:
        """Let a stalled node go on: what it was sent is delivered now, in order."""
        self.stalled.discard(node_id)
        mine = [m for m in self.held if m.to == node_id]
        self.held = [m for m in self.held if m.to != node_id]
        for m in mine:
            heapq.heappush(self._in_flight, (self.now, next(self._sequence), m))

    def _linked(self, a: int, b: int) -> bool:
        return frozenset((a, b)) not in self.cut_links

    def _send(self, m: Message) -> None:
        if not self._linked(m.frm, m.to):
            self._lost(m, unreachable=True)
            return
        if self.rng.random() < self.faults.drop_rate:
            self._lost(m, unreachable=False)
            return
        copies = 2 if self.rng.random() < self.faults.duplicate_rate else 1
        for _ in range(copies):
            delay = self.rng.randint(0, self.faults.delay_ticks_max)
            heapq.heappush(self._in_flight, (self.now + delay, next(self._sequence), m))

    def _lost(self, m: Message, *, unreachable: bool) -> None:
        sender = self.nodes.get(m.frm)
        if sender is None or sender.raw is None:
            return
        if m.type is MessageType.SNAPSHOT:
            sender.raw.report_snapshot(m.to, delivered=False)
        elif unreachable:
            sender.raw.report_unreachable(m.to)

    def in_flight(self) -> int:
        return len(self._in_flight)

    # -- time --------------------------------------------------------------------------------------
    def tick(self) -> None:
        """One tick: every running node's clock, then every message due by now, in order."""
        self.now += 1
        for node in self.alive():
            assert node.raw is not None
            if node.node_id in self.stalled:
                continue
            node.raw.tick()
            self.handle_ready(node.node_id)
        self.observer.stepped(self)
        self.deliver_due()

    def stabilize(self) -> None:
        """Without advancing time: handle every node's Ready and deliver every message due, until quiet."""
        for node in self.alive():
            self.handle_ready(node.node_id)
        self.deliver_due()

    def isolate(self, node_id: int) -> None:
        self.partition([node_id], [i for i in self.nodes if i != node_id])

    def deliver_due(self) -> None:
        for _ in range(_DELIVERIES_PER_TICK_MAX):
            if not self._in_flight or self._in_flight[0][0] > self.now:
                return
            _, _, m = heapq.heappop(self._in_flight)
            self._deliver(m)
            self.observer.stepped(self)
        raise AssertionError("message storm: deliveries within one tick never end")

    def _deliver(self, m: Message) -> None:
        if m.to in self.stalled and m.to in self.nodes:
            self.held.append(m)
            return
        receiver = self.nodes.get(m.to)
        if receiver is None or receiver.raw is None or not self._linked(m.frm, m.to):
            self._lost(m, unreachable=True)
            self._handle_ready_if_running(m.frm)
            return
        receiver.raw.step(m)
        self.handle_ready(m.to)
        sender = self.nodes.get(m.frm)
        if m.type is MessageType.SNAPSHOT and sender is not None and sender.raw is not None:
            sender.raw.report_snapshot(m.to, delivered=True)
            self.handle_ready(m.frm)

    # -- the driver loop of one node ---------------------------------------------------------------
    def _handle_ready_if_running(self, node_id: int) -> None:
        node = self.nodes.get(node_id)
        if node is not None and node.raw is not None:
            self.handle_ready(node_id)

    def handle_ready(self, node_id: int) -> None:
        """Run the Ready contract until the node has nothing left to do (or dies trying)."""
        node = self.nodes[node_id]
        while node.raw is not None and node.raw.has_ready():
            rd = node.raw.ready()
            if rd.send_before_persist:
                for m in rd.messages:                                                       # 2. send early
                    self._send(m)
            crash = self._crash_point()
            if crash is CrashPoint.BEFORE_PERSIST:
                self.crash(node_id)
                return
            self.observer.persisting(self, node_id, rd)
            node.disk.save(rd, with_hard_state=crash is not CrashPoint.AFTER_ENTRIES)  # 1. persist
            if crash is not None:
                self.crash(node_id)
                return
            for m in () if rd.send_before_persist else rd.messages:                         # 2. send
                self._send(m)
            self._apply(node, rd)                                                           # 3. apply
            node.raw.advance(rd)                                                            # 4. advance
            self._maybe_snapshot(node)

    def _crash_point(self) -> CrashPoint | None:
        if self.faults.crash_in_ready_rate and self.rng.random() < self.faults.crash_in_ready_rate:
            return self.rng.choice(list(CrashPoint))
        return None

    def _apply(self, node: SimNode, rd: Ready) -> None:
        assert node.raw is not None and node.machine is not None
        if rd.snapshot is not None:
            node.machine = StateMachine.restore(rd.snapshot)
            self.observer.restored(self, node.node_id, node.machine)
        for entry in rd.committed:
            if entry.type is EntryType.CONF_CHANGE:
                node.machine.conf_state = node.raw.apply_conf_change(ConfChange.decode(entry.data))
            node.machine.apply(entry)
            self.observer.applied(self, node.node_id, entry, node.machine)
        for state in rd.read_states:
            self.observer.read(self, node.node_id, state)

    def _maybe_snapshot(self, node: SimNode) -> None:
        """Snapshot the state machine every ``snapshot_entries`` applied, keeping a few entries."""
        raw, machine = node.raw, node.machine
        assert raw is not None and machine is not None
        taken = node.disk.snapshot.meta.index if node.disk.snapshot is not None else 0
        if machine.applied - taken < self.snapshot_entries:
            return
        term = raw.log.term_at(machine.applied)
        assert term is not None
        meta = SnapshotMeta(machine.applied, term, machine.conf_state)
        node.disk.save_local_snapshot(Snapshot(meta, machine.encode()))
        keep = self.rng.randint(0, 5)
        compact_to = max(machine.applied - keep, raw.log.offset)
        compact_term = raw.log.term_at(compact_to)
        assert compact_term is not None
        raw.compact(SnapshotMeta(compact_to, compact_term, machine.conf_state))

