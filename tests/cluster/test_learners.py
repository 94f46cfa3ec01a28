"""Many learners, and learners that come and go, with real processes on loopback (issue 16).

``--max-learners`` lets a cluster hold more learners than etcd 3.4's one; past it the
answer is etcd's refusal, compared with a real etcd 3.4 refusing at its own limit of one.
A learner stopped by SIGSTOP leaves the voters committing; let go, it catches up
through the leader's snapshot (its log compacted meanwhile); removed while down, it
refuses to start with etcd's message. Stopped while puts of half a MiB each go by, its
connection from the leader backs up (bytes held unsent in the kernel, seen in
``/proc/net/tcp``) and every put is still acknowledged and applied by every voter. No
timing is asserted: progress and states.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import socket
from pathlib import Path
from typing import Any

from confagent.testing import (
    DEADLINE_S,
    Processes,
    ServerProcess,
    b64,
    free_port,
    leader_of,
    post,
    store_process,
    unb64,
    until,
)

REMOVED = "the member has been permanently removed from the cluster"
VOTER_ARGS = ("--max-learners", "2", "--snapshot-count", "10")
"""The voters snapshot (and compact their log) every 10 entries; the learners keep etcd's 20,000."""


def _members(url: str) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = post(url, "/v3/cluster/member/list", {}).json()["members"]
    return members


def _add_learner(url: str) -> tuple[int, dict[str, Any]]:
    reply = post(url, "/v3/cluster/member/add", {"peerURLs": [f"http://127.0.0.1:{free_port()}"],
                                                 "isLearner": True})
    return reply.status_code, reply.json()


def _join(processes: Processes, leader: ServerProcess, base_dir: Path,
          name: str) -> tuple[str, ServerProcess]:
    """A learner added through ``leader``, started and healthy; its ID and process."""
    status, reply = _add_learner(leader.url)
    assert status == 200, reply
    added = reply["member"]
    peer = added["peerURLs"][0]
    initial = ",".join(f"{name if m['ID'] == added['ID'] else m['name']}={u}" for m in reply["members"]
                       for u in m["peerURLs"] if m["ID"] == added["ID"] or m.get("name"))
    learner = store_process(f"http://127.0.0.1:{free_port()}", base_dir / name, [
        "--name", name, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", initial, "--initial-cluster-state", "existing"])
    return str(added["ID"]), processes.server(learner).start()


def _local_value(member: ServerProcess, key: str) -> str | None:
    kvs = post(member.url, "/v3/kv/range", {"key": b64(key), "serializable": True}).json().get("kvs")
    return unb64(kvs[0].get("value", "")) if kvs else None


def _snapshot_files(member: ServerProcess) -> set[str]:
    return {path.name for path in (member.data_dir / "member" / "snap").glob("*.snap")}


def test_learners_up_to_the_limit_then_etcds_refusal_and_nothing_changed(
        tmp_path: Path, etcd_processes: Processes) -> None:
    etcd = etcd_processes.etcd(tmp_path / "etcd")
    ours = etcd_processes.store(tmp_path / "ours", args=["--max-learners", "3"])
    assert _add_learner(etcd.url)[0] == 200  # etcd 3.4's limit: one
    for _ in range(3):
        assert _add_learner(ours.url)[0] == 200
    refusals = []
    for url in (etcd.url, ours.url):
        before = _members(url)
        status, reply = _add_learner(url)
        refusals.append((status, reply))
        learner = next(m for m in before if m.get("isLearner"))
        promote = post(url, "/v3/cluster/member/promote", {"ID": learner["ID"]})  # never started
        refusals.append((promote.status_code, promote.json()))
        assert _members(url) == before
    etcd_add, etcd_promote, ours_add, ours_promote = refusals
    assert ours_add == etcd_add, (ours_add, etcd_add)
    assert ours_add[1]["error"] == "etcdserver: too many learner members in cluster"
    assert ours_promote == etcd_promote, (ours_promote, etcd_promote)
    assert "in sync with leader" in ours_promote[1]["error"]


def test_a_stopped_learner_leaves_voters_committing_rejoins_by_snapshot_and_once_removed_refuses_to_start(
        tmp_path: Path, processes: Processes) -> None:
    voters = processes.running_cluster(tmp_path, 3, args=VOTER_ARGS)
    leader = leader_of(voters)
    stalled_id, stalled = _join(processes, leader, tmp_path, "l0")
    _, other = _join(processes, leader, tmp_path, "l1")
    snapshots_before = _snapshot_files(stalled)
    os.kill(stalled.pid, signal.SIGSTOP)
    try:
        for i in range(60):  # six times the voters' --snapshot-count: the stalled learner's next entry goes
            put = post(leader.url, "/v3/kv/put", {"key": b64(f"k{i}"), "value": b64(str(i))})
            assert put.status_code == 200, put.text
        for member in (*voters, other):
            until(lambda m=member: _local_value(m, "k59") == "59", "every voter and the other learner")
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
    until(lambda: _local_value(stalled, "k59") == "59", "the stalled learner to catch up", stalled.log_path)
    assert _local_value(stalled, "k0") == "0"
    assert _snapshot_files(stalled) - snapshots_before, "caught up through the leader's snapshot"

    stalled.stop()
    assert post(leader.url, "/v3/cluster/member/remove", {"ID": stalled_id}).status_code == 200
    stalled.launch()
    assert stalled.process is not None and stalled.process.wait(DEADLINE_S) != 0
    assert REMOVED in stalled.log_path.read_text()
    assert [m["name"] for m in _members(leader.url) if m.get("isLearner")] == ["l1"]


BIG_VALUE_BYTES = 1_400_000
"""An entry larger than the receive buffer the stopped learner's connections are pinned to
(``PINNED_RECEIVE_BYTES``): the one append a learner may have in flight
(``RaftConfig.max_inflight_learner_appends``) backs the leader's connection up."""
PINNED_RECEIVE_BYTES = 65_536
"""Loopback grows a receive buffer up to tcp_rmem's maximum (32 MB on this machine) as the
reader keeps up, so the test pins the learner's, as a slow network would bound it."""
_SYS_PIDFD_GETFD = 438


def _pin_receive_buffers(pid: int, port: int, size: int) -> int:
    """Set SO_RCVBUF to ``size`` on process ``pid``'s connections accepted on ``port``, through
    copies of its descriptors (pidfd_getfd(2)); how many."""
    inodes = {fields[9] for fields in _tcp_connections() if int(fields[1].split(":")[1], 16) == port}
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd, pinned = os.pidfd_open(pid), 0
    try:
        for entry in Path(f"/proc/{pid}/fd").iterdir():
            if os.readlink(entry).removeprefix("socket:[").removesuffix("]") in inodes:
                copy = libc.syscall(_SYS_PIDFD_GETFD, pidfd, int(entry.name), 0)
                assert copy >= 0, os.strerror(ctypes.get_errno())
                with socket.socket(fileno=copy) as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                pinned += 1
    finally:
        os.close(pidfd)
    return pinned


def _tcp_connections() -> list[list[str]]:
    """The fields of ``/proc/net/tcp``'s established connections."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return [fields for fields in map(str.split, lines) if fields[3] == "01"]


def _holds(member: ServerProcess, key: str, value: str) -> bool:
    return _local_value(member, key) == value


def _unsent_bytes_to(port: int) -> int:
    """Bytes the kernel holds unsent on connections to 127.0.0.1:``port`` (``/proc/net/tcp``'s tx_queue)."""
    return sum(int(fields[4].split(":")[0], 16) for fields in _tcp_connections()
               if int(fields[2].split(":")[1], 16) == port)


def test_a_stopped_learner_whose_connection_backs_up_leaves_every_voter_committing(
        tmp_path: Path, processes: Processes) -> None:
    voters = processes.running_cluster(tmp_path, 3, args=("--max-learners", "1"))
    leader = leader_of(voters)
    _, stalled = _join(processes, leader, tmp_path, "l0")
    peer_port = int(stalled.argv[stalled.argv.index("--listen-peer-urls") + 1].rsplit(":", 1)[1])
    value = "v" * BIG_VALUE_BYTES
    assert _pin_receive_buffers(stalled.pid, peer_port, PINNED_RECEIVE_BYTES), "the leader's connection"
    os.kill(stalled.pid, signal.SIGSTOP)
    try:
        for i in range(4):  # every put must be acknowledged, whatever the stopped learner reads
            put = post(leader.url, "/v3/kv/put", {"key": b64(f"big{i}"), "value": b64(value)}, timeout_s=30)
            assert put.status_code == 200, put.text
        assert _unsent_bytes_to(peer_port) > 0, "the connection to the stopped learner never backed up"
        for member in voters:
            until(functools.partial(_holds, member, "big3", value), "every voter to apply the last put")
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
    until(functools.partial(_holds, stalled, "big3", value), "the learner to catch up", stalled.log_path)
    assert _local_value(stalled, "big0") == value
