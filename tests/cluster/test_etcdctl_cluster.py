"""The real etcdctl over gRPC against a three-member confagent cluster: a follower forwards writes,
answers linearizable reads, lists the members and the cluster's status; an etcdctl watch and an etcdctl
lock held through a follower outlive the leader's SIGKILL (the watch keeps delivering once a new leader
is elected; the lock's session is kept alive through the surviving member), the same scenario run
against a three-member etcd 3.4 with the same outcome. One confagent cluster for the module; the test
that kills its leader comes last.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.testing import Processes, ServerProcess, etcd_cluster, leader_of, until
from tests.cli.support import Held, Tool

pytestmark = pytest.mark.etcd

# clientv3 gives a session up when no keep-alive answer comes for a whole TTL. Through a leader's
# SIGKILL that takes the election (1-2 s at a 1 s election timeout, pre-vote first) plus the follower's
# forwarding to the new leader: at a 3 s TTL etcd's own session expired in one CI run.
LOCK_TTL_S = 6


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
            etcd_binary: str) -> Iterator[list[ServerProcess]]:
    """Three members of one cluster, healthy (etcd_binary: the tests run etcd's etcdctl)."""
    started = session_processes.running_cluster(tmp_path_factory.mktemp("etcdctl-cluster"), 3)
    try:
        yield started
    finally:
        for member in started:
            member.stop()


def _followers(members: list[ServerProcess]) -> list[ServerProcess]:
    leader = leader_of(members)
    return [member for member in members if member is not leader]


def _ctl(member: ServerProcess) -> Tool:
    return Tool("etcdctl", member.url.removeprefix("http://"))


def test_a_follower_forwards_writes_and_reads_linearizably(members: list[ServerProcess],
                                                           processes: Processes) -> None:
    one, other = (_ctl(member) for member in _followers(members))
    key = f"follower/{uuid.uuid4().hex[:6]}"
    assert one.run(processes, "put", key, "v1") == (0, "OK\n", "")
    assert other.run(processes, "get", key, "--print-value-only") == (0, "v1\n", "")
    assert other.run(processes, "put", key, "v2", "--prev-kv") == (0, f"OK\n{key}\nv1\n", "")
    assert one.run(processes, "get", key, "--print-value-only") == (0, "v2\n", "")
    assert one.run(processes, "del", key) == (0, "1\n", "")
    assert other.run(processes, "get", key, "--consistency", "s", "-w", "json")[0] == 0


def test_a_follower_lists_the_members_and_the_clusters_status(members: list[ServerProcess],
                                                              processes: Processes) -> None:
    follower = _ctl(_followers(members)[0])
    code, out, err = follower.run(processes, "member", "list", "-w", "json")
    assert (code, err) == (0, "")
    listed = json.loads(out)["members"]
    assert sorted(m["clientURLs"][0] for m in listed) == sorted(m.url for m in members)
    assert all(not m.get("isLearner") for m in listed)
    code, out, err = follower.run(processes, "endpoint", "status", "--cluster", "-w", "json")
    assert (code, err) == (0, "")
    statuses = json.loads(out)
    assert sorted(s["Endpoint"] for s in statuses) == sorted(m.url for m in members)
    leaders = {s["Status"]["leader"] for s in statuses}
    assert len(leaders) == 1
    assert [s["Status"]["header"]["member_id"] for s in statuses].count(leaders.pop()) == 1
    health = processes.run(follower.argv("endpoint", "health", "--cluster"), env=follower.env)
    assert health.returncode == 0
    assert health.stderr.decode().count("is healthy: successfully committed proposal") == 3  # on stderr


@pytest.fixture(params=["confagent", "etcd"])
def killable(request: pytest.FixtureRequest, members: list[ServerProcess], processes: Processes,
             tmp_path: Path) -> list[ServerProcess]:
    """The module's confagent cluster (this test comes last), or a fresh three-member etcd 3.4."""
    if request.param == "confagent":
        return members
    started = [processes.server(member) for member in etcd_cluster(tmp_path / "etcd", 3)]
    for member in started:
        member.launch()
    for member in started:
        member.wait_healthy()
    return started


def test_a_watch_and_a_held_lock_survive_a_leader_kill(killable: list[ServerProcess], processes: Processes,
                                                       tmp_path: Path) -> None:
    """The same scenario against confagent and against etcd, with the same outcome."""
    leader = leader_of(killable)
    one, other = (_ctl(member) for member in killable if member is not leader)
    prefix, name = f"kill/{uuid.uuid4().hex[:6]}/", f"kill-lock-{uuid.uuid4().hex[:6]}"
    watch = Held(one, processes, tmp_path, "watch", prefix, "--prefix")
    holder = Held(one, processes, tmp_path, "lock", "--ttl", str(LOCK_TTL_S), name)
    until(lambda: len(holder.lines()) >= 1, "the lock to be held through a follower")
    key = holder.lines()[0]
    assert other.run(processes, "put", prefix + "before", "1") == (0, "OK\n", "")
    until(lambda: prefix + "before" in watch.lines(), "the watch to see a put")

    leader.kill()
    elected = leader_of([member for member in killable if member is not leader])
    killed_at = time.monotonic()
    assert other.run(processes, "put", prefix + "after", "2") == (0, "OK\n", "")
    until(lambda: watch.lines()[-3:] == ["PUT", prefix + "after", "2"], "the watch to deliver after the kill")
    # The session outlives its TTL counted from the election (a new leader gives every lease its full
    # TTL): its keep-alives reach the new leader through the surviving member, so the lock stays held.
    until(lambda: time.monotonic() - killed_at > LOCK_TTL_S + 1, "the lock's TTL to pass since the election")
    assert holder.process.poll() is None, holder.err.read_text()
    code, out, _ = _ctl(elected).run(processes, "get", name, "--prefix", "--keys-only")
    assert (code, out.split()) == (0, [key])
    waiter = Held(other, processes, tmp_path, "lock", name, "--", "echo", "taken")
    assert holder.stop(signal.SIGINT) == (0, key + "\n\n", "")
    until(lambda: waiter.process.poll() is not None, "the waiter to take the released lock")
    assert (waiter.process.returncode, waiter.lines()) == (0, ["taken"])
    watch.stop(signal.SIGTERM)
