"""Raft's safety properties, checked on every event of a simulated cluster.

- Election safety: at most one leader per term.
- Log matching: an (index, term) pair names one entry everywhere, with the same
  predecessor term (so, by induction, the same log prefix).
- Leader completeness: the leader of term T holds every entry committed in a
  term before T. The term an entry was committed in is bounded from above by
  the term of the first node seen to know it committed.
- State machine safety: no two nodes apply different entries at one index; the
  state (a hash chain) after applying an index is the same everywhere, also
  when reached through a snapshot.
- Committed entries are never lost (follows from the two above, and the
  liveness phase checks every member finally applies past them).
- Reads: a ReadIndex answer is at or above everything committed when asked.
"""

from __future__ import annotations

from confagent.raft import Entry, ReadState, Ready, Role
from confagent.testing import SimCluster, SimObserver, StateMachine

__all__ = ["SafetyChecker", "SafetyViolation"]


class SafetyViolation(AssertionError):
    """A Raft safety property failed."""


class SafetyChecker(SimObserver):
    """Records what every node persisted and applied, and fails at the first inconsistency."""

    def __init__(self) -> None:
        self.leader_of_term: dict[int, int] = {}
        self.entry_at: dict[tuple[int, int], tuple[int, bytes, int]] = {}  # (index, term) -> type, data, prev
        self.applied_at: dict[int, tuple[int, bytes]] = {}  # index -> (term, digest after it)
        self.committed_term: dict[int, int] = {}
        self.commit_term_bound: dict[int, int] = {}  # index -> a term it was committed in or before
        self.max_committed = 0
        self.read_floor: dict[bytes, int] = {}
        self.reads_confirmed = 0
        self.trace: list[str] = []

    def note(self, line: str) -> None:
        self.trace.append(line)
        del self.trace[:-200]

    def _fail(self, message: str) -> None:
        raise SafetyViolation(message)

    # -- events ------------------------------------------------------------------------------
    def persisting(self, cluster: SimCluster, node_id: int, rd: Ready) -> None:
        raw = cluster.running(node_id)
        if rd.entries:
            prev_term = raw.log.term_at(rd.entries[0].index - 1)
            assert prev_term is not None
            for entry in rd.entries:
                self._check_entry(node_id, entry, prev_term)
                prev_term = entry.term
        if rd.hard_state is not None and rd.hard_state.commit:
            term = raw.log.term_at(rd.hard_state.commit)
            if term is not None:
                self._committed(node_id, rd.hard_state.commit, term, rd.hard_state.term)

    def _check_entry(self, node_id: int, entry: Entry, prev_term: int) -> None:
        seen = (entry.type, entry.data, prev_term)
        known = self.entry_at.setdefault((entry.index, entry.term), seen)
        if known != seen:
            self._fail(f"log matching: node {node_id} has {entry} after term {prev_term}, others {known}")

    def _committed(self, node_id: int, index: int, term: int, known_in_term: int) -> None:
        known = self.committed_term.setdefault(index, term)
        if known != term:
            self._fail(f"node {node_id} commits term {term} at {index}, already committed term {known}")
        bound = self.commit_term_bound.get(index, known_in_term)
        self.commit_term_bound[index] = min(bound, known_in_term)
        self.max_committed = max(self.max_committed, index)

    def applied(self, cluster: SimCluster, node_id: int, entry: Entry, machine: StateMachine) -> None:
        self._committed(node_id, entry.index, entry.term, cluster.running(node_id).term)
        self._same_state(node_id, entry.index, entry.term, machine.digest)

    def restored(self, cluster: SimCluster, node_id: int, machine: StateMachine) -> None:
        known = self.applied_at.get(machine.applied)
        if known is not None and known[1] != machine.digest:
            self._fail(f"node {node_id} restored a snapshot at {machine.applied} with another state")

    def _same_state(self, node_id: int, index: int, term: int, digest: bytes) -> None:
        known = self.applied_at.setdefault(index, (term, digest))
        if known != (term, digest):
            self._fail(f"state machine safety: node {node_id} applied a different entry/state at {index}")

    def read(self, cluster: SimCluster, node_id: int, state: ReadState) -> None:
        floor = self.read_floor.get(state.context)
        assert floor is not None, f"a read nobody asked for: {state}"
        if state.index < floor:
            self._fail(f"stale read on node {node_id}: index {state.index} < {floor} committed when asked")
        self.reads_confirmed += 1

    def asked_read(self, context: bytes) -> None:
        self.read_floor[context] = self.max_committed

    def stepped(self, cluster: SimCluster) -> None:
        for node in cluster.alive():
            raw = node.raw
            assert raw is not None
            if raw.role is not Role.LEADER:
                continue
            leader = self.leader_of_term.setdefault(raw.term, node.node_id)
            if leader != node.node_id:
                self._fail(f"election safety: {leader} and {node.node_id} both lead term {raw.term}")
            self._check_complete(node.node_id, cluster)

    def _check_complete(self, node_id: int, cluster: SimCluster) -> None:
        """The newest entries committed before this leader's term are in its log."""
        raw = cluster.running(node_id)
        checked = 0
        for index in range(self.max_committed, raw.log.offset, -1):
            bound = self.commit_term_bound.get(index)
            if bound is None or bound >= raw.term:
                continue
            if raw.log.term_at(index) != self.committed_term[index]:
                self._fail(f"leader completeness: leader {node_id} of term {raw.term} lacks "
                           f"({index}, {self.committed_term[index]}) committed by term {bound}")
            checked += 1
            if checked == 20:
                return
