"""Twenty learners on loopback: the leader SIGKILLed, a learner cut off, the fleet restarted (issue 16).

Three voters and twenty learners (``confagent store`` processes, every member with
``--max-learners 20``); every byte the learner ``l00`` receives from its peers passes
through a fault proxy. Under writes on every voter, ``l00`` is cut off (blackhole), then
the leader is SIGKILLed; later all twenty learners are SIGKILLed together and started
again together (a fleet restarting at once). Claims, in etcd's terms and without timing:

1. Writes keep committing between the two voters left (they elect one of them).
2. Every learner still reachable converges to the voters' revision and values, read
   from each with a serializable range (its own replica).
3. The cut-off learner stays behind while cut off, and once healed catches up through
   the leader's snapshot: the voters take one every ``SNAPSHOT_ENTRIES`` and compact
   their log, and more than that many entries were committed meanwhile.
4. No learner ever started an election, voted or led: no "election started" in its log,
   no vote in the hard state its log keeps (the two voters left both voted for the new
   leader), and every leader any member's log or status names is a voter.
5. Nothing acknowledged is lost: each acknowledged put is on every converged member at
   the revision it was acknowledged at, and revisions run 2..current without a gap.
6. Twenty learners restarting at once do not starve the voters: a client's writes to the
   voters keep being acknowledged while the learners are down and while all twenty start
   and rejoin together (joins need no member change: each restarts from its own data),
   and every learner converges to the voters' state. Each was down past the voters'
   compacted log, so each comes back through a leader's snapshot (a new snapshot file),
   which the leader streams to learners in turns (``RaftConfig.max_learner_snapshots``,
   checked step by step in tests/raft/test_learners.py; here the twenty turns must all
   come while the voters commit).
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from confagent.server.storage import Wal
from confagent.testing import (
    FaultProxy,
    PartitionMode,
    Processes,
    ServerProcess,
    Writers,
    b64,
    free_port,
    leader_of,
    post,
    store_learners,
    unb64,
    until,
)

LEARNERS = 20
SNAPSHOT_ENTRIES = 10
LEARNER_ARGS = ("--max-learners", str(LEARNERS))
VOTER_ARGS = (*LEARNER_ARGS, "--snapshot-count", str(SNAPSHOT_ENTRIES))
"""The voters snapshot (and compact their log) every few entries; the learners keep etcd's 20,000."""
PAST_COMPACTION = 6 * SNAPSHOT_ENTRIES
"""Puts acknowledged after the cut and the kill: the voters' logs are compacted well past the cut-off
learner's index, so only a snapshot can bring it back."""
START_S = 120.0
"""The bound on twenty learners' start-up together (each a Python process importing the store, at
about a second of CPU each, twenty of them on a loaded 2-core machine), and on the writes after the
kill (an election, then sixty puts, among twenty learners applying them)."""
ALL_KEYS = {"key": b64("\0"), "range_end": b64("\0")}


@dataclass
class Fleet:
    """The voters, the learners (``learners[0]`` behind ``proxy``), and each learner's member ID."""

    voters: list[ServerProcess]
    learners: list[ServerProcess]
    learner_ids: set[str]
    proxy: FaultProxy


@pytest.fixture
def fleet(tmp_path: Path, processes: Processes) -> Iterator[Fleet]:
    """Three voters and twenty learners that have each applied the voters' first key."""
    voters = processes.running_cluster(tmp_path, 3, args=VOTER_ARGS)
    first = post(leader_of(voters).url, "/v3/kv/put", {"key": b64("first"), "value": b64("1")})
    assert first.status_code == 200, first.text
    listen_port, proxy_port = free_port(), free_port()
    others = [free_port() for _ in range(LEARNERS - 1)]
    ports = [(listen_port, proxy_port), *zip(others, others, strict=True)]
    with FaultProxy(proxy_port, "127.0.0.1", listen_port) as proxy:
        learners = store_learners(leader_of(voters).url, tmp_path, LEARNERS, args=LEARNER_ARGS,
                                  peer_ports=ports)
        listed = post(voters[0].url, "/v3/cluster/member/list", {}).json()["members"]
        ids = {str(m["ID"]) for m in listed if m.get("isLearner")}
        for learner in learners:
            processes.server(learner).launch()
        for learner in learners:
            learner.wait_healthy(START_S)
            until(functools.partial(_applied_first, learner), f"{learner.data_dir.name}'s first key",
                  learner.log_path)
        try:
            yield Fleet(voters, learners, ids, proxy)
        finally:
            for member in (*learners, *voters):  # all at once: the fixture then reaps each in turn
                if member.process is not None and member.process.poll() is None:
                    member.process.send_signal(signal.SIGTERM)


def _serializable(member: ServerProcess) -> dict[str, Any]:
    """Every key with its revisions, and the revision: the member's own replica (etcd's serializable read)."""
    reply = post(member.url, "/v3/kv/range", {**ALL_KEYS, "serializable": True}, timeout_s=30)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _state(member: ServerProcess) -> tuple[int, dict[str, tuple[str, int]]]:
    """The member's revision, and each key's value and mod revision, read from its own replica."""
    body = _serializable(member)
    return int(body["header"]["revision"]), {
        unb64(kv["key"]): (unb64(kv.get("value", "")), int(kv["mod_revision"])) for kv in body.get("kvs", [])}


def _applied_first(member: ServerProcess) -> bool:
    return _state(member)[1].get("first") is not None


def _holds(member: ServerProcess, state: tuple[int, dict[str, tuple[str, int]]]) -> bool:
    return _state(member) == state


def _snapshot_files(member: ServerProcess) -> set[str]:
    return {path.name for path in (member.data_dir / "member" / "snap").glob("*.snap")}


def _leaders_logged(member: ServerProcess) -> tuple[set[str], int]:
    """The leaders a member's log names (hex IDs), and how many elections it started."""
    leaders, elections = set(), 0
    for line in member.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line[line.index("{"):])
            if record.get("event") == "leader changed":
                leaders.add(record["leader"])
            elections += record.get("event") == "election started"
    return leaders, elections


@pytest.mark.slow
def test_twenty_learners_through_a_leader_kill_and_a_partition(fleet: Fleet) -> None:
    leader = leader_of(fleet.voters)
    survivors = [voter for voter in fleet.voters if voter is not leader]
    cut_off, reachable = fleet.learners[0], fleet.learners[1:]
    snapshots_before = _snapshot_files(cut_off)
    on_leader = Writers([leader.url], "w/leader", request_timeout_s=3.0).start()  # ends at the kill
    on_rest = Writers([v.url for v in survivors], "w/rest", request_timeout_s=3.0, retry_errors=True).start()
    try:
        until(on_leader.acknowledged_any, "a first acknowledged write on the leader")
        fleet.proxy.partition(PartitionMode.BLACKHOLE)
        before_kill = len(dict(on_rest.acked))
        leader.kill()
        until(lambda: len(dict(on_rest.acked)) >= before_kill + PAST_COMPACTION,
              f"{PAST_COMPACTION} more writes acknowledged by the two voters left", deadline_s=START_S)
    finally:
        on_leader.stop()
        on_rest.stop()
    acked = {**on_leader.acked, **on_rest.acked}
    new_leader = leader_of(survivors)
    revision, expected = _state(new_leader)
    assert sorted(rev for _, rev in expected.values()) == list(range(2, revision + 1)), "a revision missing"
    lost = {key: rev for key, rev in acked.items() if expected.get(key) != (key, rev)}
    assert not lost, f"acknowledged writes lost or changed: {sorted(lost.items())[:10]}"
    for member in (*survivors, *reachable):
        until(functools.partial(_holds, member, (revision, expected)), f"{member.data_dir.name} to converge",
              member.log_path)
    assert _state(cut_off)[0] < revision, "the cut-off learner applied writes it was never sent"
    fleet.proxy.heal()
    until(functools.partial(_holds, cut_off, (revision, expected)), "the healed learner to catch up",
          cut_off.log_path)
    assert _snapshot_files(cut_off) - snapshots_before, "the healed learner caught up through a snapshot"
    _restart_all_learners_at_once(fleet, survivors)
    _assert_no_learner_led(fleet, survivors)


def _restart_all_learners_at_once(fleet: Fleet, survivors: list[ServerProcess]) -> None:
    """Claim 6: every learner SIGKILLed, the voters written past their compacted log, every learner
    started again at once, under a client's writes to the voters throughout."""
    urls = [voter.url for voter in survivors]
    writers = Writers(urls, "w/restart", request_timeout_s=3.0, retry_errors=True).start()
    try:
        until(writers.acknowledged_any, "a first acknowledged write before the restart")
        for learner in fleet.learners:
            assert learner.process is not None
            learner.process.send_signal(signal.SIGKILL)
        for learner in fleet.learners:
            learner.kill()  # reaps it
        snapshots_before = {learner.data_dir.name: _snapshot_files(learner) for learner in fleet.learners}
        down = len(dict(writers.acked))
        until(lambda: len(dict(writers.acked)) >= down + PAST_COMPACTION,
              f"{PAST_COMPACTION} writes acknowledged while the learners are down", deadline_s=START_S)
        for learner in fleet.learners:
            learner.launch()
        launched = len(dict(writers.acked))
        for learner in fleet.learners:
            learner.wait_healthy(START_S)
        until(lambda: len(dict(writers.acked)) >= launched + PAST_COMPACTION,
              f"{PAST_COMPACTION} writes acknowledged since the twenty learners were started again",
              deadline_s=START_S)
    finally:
        writers.stop()
    revision, expected = _state(leader_of(survivors))
    lost = {key: rev for key, rev in writers.acked.items() if expected.get(key) != (key, rev)}
    assert not lost, f"acknowledged writes lost or changed: {sorted(lost.items())[:10]}"
    for learner in fleet.learners:
        until(functools.partial(_holds, learner, (revision, expected)),
              f"{learner.data_dir.name} to converge after the restart", learner.log_path)
    not_sent = [learner.data_dir.name for learner in fleet.learners
                if not _snapshot_files(learner) - snapshots_before[learner.data_dir.name]]
    assert not not_sent, f"learners that caught up without a snapshot: {not_sent}"


def _assert_no_learner_led(fleet: Fleet, survivors: list[ServerProcess]) -> None:
    voter_ids = {format(int(post(v.url, "/v3/maintenance/status", {}).json()["header"]["member_id"]), "x")
                 for v in survivors}
    statuses = [post(m.url, "/v3/maintenance/status", {}).json() for m in (*survivors, *fleet.learners)]
    assert {format(int(s["leader"]), "x") for s in statuses} <= voter_ids
    assert {s["raftTerm"] for s in statuses} == {statuses[0]["raftTerm"]}, "a term moved by no voter"
    learner_ids = {format(int(i), "x") for i in fleet.learner_ids}
    for member in (*fleet.voters, *fleet.learners):
        leaders, elections = _leaders_logged(member)
        assert leaders and not leaders & learner_ids, (member.data_dir.name, leaders)
        if member in fleet.learners:
            assert elections == 0, f"learner {member.data_dir.name} started an election"
    leader = format(int(statuses[0]["leader"]), "x")
    assert _saved_votes([*survivors, *fleet.learners]) == {
        m.data_dir.name: leader if m in survivors else "0" for m in (*survivors, *fleet.learners)}


def _saved_votes(members: list[ServerProcess]) -> dict[str, str]:
    """Each member's vote in the hard state its log keeps (hex; "0": none), read once it stopped."""
    for member in members:
        assert member.process is not None
        member.process.send_signal(signal.SIGTERM)
    votes = {}
    for member in members:
        assert member.process is not None
        member.process.wait(START_S)
        wal, state = Wal.open(member.data_dir)
        wal.close()
        votes[member.data_dir.name] = format(state.hard_state.vote, "x")
    return votes
