"""Seeded simulation of whole clusters: a safety phase under faults, then a liveness phase.

Each seed picks a cluster size and fault mix, then for a few hundred ticks
proposes, reads, crashes and restarts nodes, cuts and heals links, transfers
leadership and changes membership, while ``SafetyChecker`` checks every event.
Then faults stop: within a bounded number of ticks there must be a leader, and
a proposal must be applied by every member.

    CONFAGENT_SIM_SEEDS=100000 python -m pytest tests/raft/test_sim.py   # a long run
    CONFAGENT_SIM_SEED=1234 python -m pytest tests/raft/test_sim.py      # replay one seed
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import pytest

from confagent.errors import ConfigError, NoLeader, ResourceExhausted, Unavailable
from confagent.raft import ConfChange, ConfChangeType, RaftConfig, RawNode, Role
from confagent.testing import NetworkFaults, SimCluster
from tests.thoroughness import examples

from .safety import SafetyChecker

SEEDS = int(os.environ.get("CONFAGENT_SIM_SEEDS", examples(1000)))
REPLAY = os.environ.get("CONFAGENT_SIM_SEED")
CHUNK = 50
SAFETY_TICKS = 150
LIVENESS_TICKS = 400
ELECTION_TICKS = 10
MAX_NODES = 7


@dataclass(frozen=True, slots=True)
class Scenario:
    """What one seed does, drawn from it."""

    nodes: int
    faults: NetworkFaults
    snapshot_entries: int
    membership_changes: bool
    config: RaftConfig

    @classmethod
    def draw(cls, rng: random.Random) -> Scenario:
        faults = NetworkFaults(
            drop_rate=rng.choice((0.0, 0.02, 0.1, 0.3)),
            duplicate_rate=rng.choice((0.0, 0.02, 0.1)),
            delay_ticks_max=rng.choice((0, 1, 3)),
            crash_in_ready_rate=rng.choice((0.0, 0.0, 0.002, 0.01)),
        )
        config = RaftConfig(node_id=1, voters=(1,), election_ticks=ELECTION_TICKS,
                            max_entries_per_append=rng.choice((1, 3, 16)),
                            max_inflight_appends=rng.choice((1, 4, 16)),
                            pre_vote=rng.random() < 0.75, check_quorum=rng.random() < 0.75)
        return cls(rng.choice((1, 2, 3, 3, 5)), faults, rng.choice((4, 20, 10_000)), rng.random() < 0.5,
                   config)


class Workload:
    """The random actions of the safety phase, and the liveness phase."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.scenario = Scenario.draw(self.rng)
        self.checker = SafetyChecker()
        self.cluster = SimCluster(self.rng, range(1, self.scenario.nodes + 1), faults=self.scenario.faults,
                                  observer=self.checker, snapshot_entries=self.scenario.snapshot_entries,
                                  base_config=self.scenario.config)
        self.next_id = self.scenario.nodes + 1
        self.proposals = 0

    def run(self) -> None:
        self.checker.note(f"scenario {self.scenario}")
        for _ in range(SAFETY_TICKS):
            self.act()
            self.cluster.tick()
        self.converge()

    # -- the safety phase ------------------------------------------------------------------------
    def act(self) -> None:
        rng, cluster = self.rng, self.cluster
        roll = rng.random()
        if roll < 0.5:
            self.propose()
        elif roll < 0.55:
            self.read()
        elif roll < 0.58:
            self.crash()
        elif roll < 0.62:
            self.restart()
        elif roll < 0.64:
            ids = sorted(cluster.nodes)
            rng.shuffle(ids)
            cut = rng.randint(1, len(ids))
            cluster.partition(ids[:cut], ids[cut:])
            self.checker.note(f"t={cluster.now} partition {ids[:cut]} | {ids[cut:]}")
        elif roll < 0.68:
            cluster.heal()
        elif roll < 0.69:
            self.transfer()
        elif roll < 0.71 and self.scenario.membership_changes:
            self.change_membership()

    def leaders(self) -> list[RawNode]:
        return [n.raw for n in self.cluster.alive() if n.raw is not None and n.raw.role is Role.LEADER]

    def propose(self) -> None:
        for raw in self.leaders():
            self.proposals += 1
            with contextlib.suppress(NoLeader):  # handing over leadership
                raw.propose(b"p%d" % self.proposals)

    def read(self) -> None:
        alive = self.cluster.alive()
        if not alive:
            return
        raw = self.rng.choice(alive).raw
        assert raw is not None
        context = b"r%d" % self.cluster.now
        self.checker.asked_read(context)
        with contextlib.suppress(NoLeader, ResourceExhausted):
            raw.read_index(context)

    def crash(self) -> None:
        leaders = [n for n in self.cluster.alive() if n.raw is not None and n.raw.role is Role.LEADER]
        alive = leaders if leaders and self.rng.random() < 0.5 else self.cluster.alive()
        if alive:
            victim = self.rng.choice(alive).node_id
            self.cluster.crash(victim)
            self.checker.note(f"t={self.cluster.now} crash {victim}")

    def restart(self) -> None:
        down = [i for i, n in sorted(self.cluster.nodes.items()) if not n.alive]
        if down:
            node_id = self.rng.choice(down)
            self.cluster.restart(node_id)
            self.checker.note(f"t={self.cluster.now} restart {node_id}")

    def transfer(self) -> None:
        for raw in self.leaders():
            target = self.rng.choice(raw.conf_state.voters)
            with contextlib.suppress(NoLeader):
                raw.transfer_leader(target)

    def change_membership(self) -> None:
        for raw in self.leaders():
            conf = raw.conf_state
            members = [*conf.voters, *conf.learners]
            kind = self.rng.choice(list(ConfChangeType))
            adding = kind is ConfChangeType.ADD_LEARNER and len(self.cluster.nodes) < MAX_NODES and (
                self.rng.random() < 0.5 or not members)
            node_id = self.next_id if adding else self.rng.choice(members)
            try:
                raw.propose_conf_change(ConfChange(kind, node_id))
            except (NoLeader, Unavailable, ConfigError):
                if node_id == raw.config.node_id and len(conf.voters) > 1:
                    raw.transfer_leader(self.rng.choice([v for v in conf.voters if v != node_id]))
                continue
            self.checker.note(f"t={self.cluster.now} propose {kind.name} {node_id}")
            if adding:
                self.next_id += 1
                self.cluster.add_node(node_id)

    # -- the liveness phase ----------------------------------------------------------------------
    def converge(self) -> None:
        """Faults stop; a leader must appear and a proposal reach every member, in bounded ticks."""
        cluster = self.cluster
        cluster.faults = NetworkFaults()
        cluster.heal()
        for node_id, node in sorted(cluster.nodes.items()):
            if not node.alive:
                cluster.restart(node_id)
        self.checker.note(f"t={cluster.now} liveness phase")
        marker: tuple[int, int] | None = None  # (node, index)
        deadline = cluster.now + LIVENESS_TICKS
        while cluster.now < deadline:
            cluster.tick()
            leaders = [r for r in self.leaders() if r.config.node_id in r.conf_state.voters]
            if marker is None and leaders:
                try:
                    marker = (leaders[0].config.node_id, leaders[0].propose(b"marker"))
                except NoLeader:
                    continue
            if marker is not None and self.applied_everywhere(marker):
                return
            if marker is not None and not any(r.config.node_id == marker[0] for r in leaders):
                marker = None  # that leader lost its place before the marker committed: try again
        raise AssertionError(f"no progress within {LIVENESS_TICKS} ticks of a healed network "
                             f"(leaders: {[r.config.node_id for r in self.leaders()]})")

    def applied_everywhere(self, marker: tuple[int, int]) -> bool:
        leader = self.cluster.running(marker[0])
        conf = leader.conf_state
        for member in (*conf.voters, *conf.learners):
            node = self.cluster.nodes.get(member)
            if node is None or node.machine is None or node.machine.applied < marker[1]:
                return False
        return True


def _run(seed: int) -> None:
    workload = Workload(seed)
    try:
        workload.run()
    except AssertionError as error:
        trace = "\n".join(workload.checker.trace[-30:])
        raise AssertionError(
            f"simulation seed {seed} failed: {error}\n{trace}\n"
            f"reproduce: CONFAGENT_SIM_SEED={seed} python -m pytest tests/raft/test_sim.py -q"
        ) from error


def _chunks() -> list[range]:
    if REPLAY is not None:
        return [range(int(REPLAY), int(REPLAY) + 1)]
    return [range(start, min(start + CHUNK, SEEDS)) for start in range(0, SEEDS, CHUNK)]


@pytest.mark.parametrize("seeds", _chunks(), ids=lambda r: f"seeds{r.start}-{r.stop - 1}")
def test_simulated_clusters_are_safe_and_recover(seeds: range) -> None:
    for seed in seeds:
        _run(seed)
