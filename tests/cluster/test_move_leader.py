"""Leadership moved on purpose (etcd's MoveLeader): the leader hands over to the member named, which
then leads for every member; a follower refuses the call, and a learner or a stranger cannot lead."""

from __future__ import annotations

import os

from confagent.testing import Processes, ServerProcess, leader_of, post


def _member_id(member: ServerProcess) -> int:
    return int(post(member.url, "/v3/maintenance/status", {}).json()["header"]["member_id"])


def test_leadership_moves_to_the_member_named(cluster: list[ServerProcess], processes: Processes) -> None:
    leader = leader_of(cluster)
    target = next(m for m in cluster if m is not leader)
    moved = post(leader.url, "/v3/maintenance/transfer-leadership", {"targetID": str(_member_id(target))})
    assert (moved.status_code, moved.json()) == (200, {})
    assert leader_of(cluster) is target

    refused = post(leader.url, "/v3/maintenance/transfer-leadership", {"targetID": str(_member_id(leader))})
    assert (refused.status_code, refused.json()["message"]) == (412, "etcdserver: not leader")
    stranger = post(target.url, "/v3/maintenance/transfer-leadership", {"targetID": "5"})
    assert (stranger.status_code, stranger.json()["message"]) == (412, "etcdserver: bad leader transferee")

    endpoints = ",".join(member.url for member in cluster)
    back = processes.confagent("move-leader", f"{_member_id(leader):x}",
                               env={**os.environ, "CONFAGENT_ENDPOINTS": endpoints})
    assert back.returncode == 0, back.stderr
    assert back.stdout == f"Leadership transferred from {_member_id(target):x} to {_member_id(leader):x}\n"
    assert leader_of(cluster) is leader
    assert post(target.url, "/v3/kv/put", {"key": "aw==", "value": "dg=="}).status_code == 200
