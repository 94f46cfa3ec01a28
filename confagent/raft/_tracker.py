"""Who is in the cluster, and what a quorum of them has: votes, matched log, recent activity.

Rules:
1. Only voters count: to elect, to commit and to stay leader. Learners get the
   log like anyone else but are never counted, whatever they answer.
2. A quorum is a strict majority of the voters (``len(voters) // 2 + 1``).
3. Every member, this node included, has a ``Progress``; the leader's own
   ``match`` is its last index, and it always counts itself as active.
4. A learner's appends in flight are bounded by ``max_inflight_learner``, a
   voter's by ``max_inflight``; a promoted learner gets a voter's bound.
5. Members are visited voters first: a leader's messages to its voters, whose
   answers its commits wait for, come before any learner's in a Ready, and are
   written first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum

from confagent.raft._progress import Progress
from confagent.raft._types import ConfState

__all__ = ["ProgressTracker", "VoteResult"]


class VoteResult(Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


class ProgressTracker:
    """The membership, each member's progress and the votes of the current election."""

    def __init__(self, conf_state: ConfState, max_inflight: int,
                 max_inflight_learner: int | None = None) -> None:
        self.max_inflight = max_inflight
        self.max_inflight_learner = max_inflight_learner or max_inflight
        self.voters: frozenset[int] = frozenset()
        self.learners: frozenset[int] = frozenset()
        self.progress: dict[int, Progress] = {}
        self._order: list[tuple[int, Progress]] = []
        self.votes: dict[int, bool] = {}
        self.reconfigure(conf_state, next_index=1)

    def reconfigure(self, conf_state: ConfState, next_index: int) -> None:
        """Adopt a membership; members kept keep their progress, new ones probe from ``next_index``."""
        assert not set(conf_state.voters) & set(conf_state.learners), "a member is voter and learner"
        self.voters = frozenset(conf_state.voters)
        self.learners = frozenset(conf_state.learners)
        kept = {i: p for i, p in self.progress.items() if i in self.voters or i in self.learners}
        for member in (*conf_state.voters, *conf_state.learners):
            if member not in kept:
                kept[member] = Progress(next_index, self.max_inflight)
                kept[member].recent_active = True  # a new member gets one election timeout of grace
            learner = member in self.learners
            kept[member].is_learner = learner
            kept[member].inflights.capacity = self.max_inflight_learner if learner else self.max_inflight
        self.progress = kept
        self._order = sorted(kept.items(), key=lambda item: (item[1].is_learner, item[0]))  # rule 5
        self.votes = {i: v for i, v in self.votes.items() if i in self.voters}

    def conf_state(self) -> ConfState:
        return ConfState(voters=tuple(sorted(self.voters)), learners=tuple(sorted(self.learners)))

    def is_member(self, node_id: int) -> bool:
        return node_id in self.voters or node_id in self.learners

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def peers(self, self_id: int) -> Iterator[tuple[int, Progress]]:
        """Every member but ``self_id``: the voters, then the learners, each in id order (rule 5;
        determinism; sorted once per membership)."""
        for member, progress in self._order:
            if member != self_id:
                yield member, progress

    # -- quorum questions ----------------------------------------------------------
    def committed_index(self) -> int:
        """The highest index a quorum of voters has in its log (0 with no voters)."""
        if not self.voters:
            return 0
        matched = sorted((self.progress[v].match for v in self.voters), reverse=True)
        return matched[self.quorum() - 1]

    def has_quorum(self, node_ids: Iterable[int]) -> bool:
        return len(self.voters.intersection(node_ids)) >= self.quorum()

    def quorum_active(self, self_id: int) -> bool:
        """Whether a quorum was heard from since the last check (this node counts as heard)."""
        active = {v for v in self.voters if v == self_id or self.progress[v].recent_active}
        return self.has_quorum(active)

    def reset_recent_active(self, self_id: int) -> None:
        for member, progress in self.progress.items():
            progress.recent_active = member == self_id

    # -- elections -----------------------------------------------------------------
    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, node_id: int, granted: bool) -> None:
        """Count a voter's first answer; answers of non-voters and repeats are ignored."""
        if node_id in self.voters:
            self.votes.setdefault(node_id, granted)

    def vote_result(self) -> VoteResult:
        granted = sum(1 for v in self.votes.values() if v)
        rejected = len(self.votes) - granted
        if granted >= self.quorum():
            return VoteResult.WON
        if len(self.voters) - rejected < self.quorum():
            return VoteResult.LOST
        return VoteResult.PENDING
