"""A three-member store cluster as real processes: replication, follower writes and reads, failover."""

from __future__ import annotations

import base64
import json
from functools import partial

from confagent.testing import ServerProcess, b64, leader_of, post, until


def _status(member: ServerProcess) -> dict[str, str]:
    reply: dict[str, str] = post(member.url, "/v3/maintenance/status", {}).json()
    return reply


def _value(member: ServerProcess, key: str, **options: object) -> str | None:
    body = post(member.url, "/v3/kv/range", {"key": b64(key), **options}).json()
    kvs = body.get("kvs")
    return base64.b64decode(kvs[0].get("value", "")).decode() if kvs else None


def test_a_write_on_any_member_is_read_on_every_member(cluster: list[ServerProcess]) -> None:
    leader = leader_of(cluster)
    followers = [m for m in cluster if m is not leader]
    assert post(followers[0].url, "/v3/kv/put", {"key": b64("k"), "value": b64("v1")}).status_code == 200
    assert post(leader.url, "/v3/kv/put", {"key": b64("k2"), "value": b64("v2")}).status_code == 200
    for member in cluster:
        assert _value(member, "k") == "v1" and _value(member, "k2") == "v2"  # linearizable reads
    revisions = {post(m.url, "/v3/kv/range", {"key": b64("k")}).json()["header"]["revision"]
                 for m in cluster}
    assert revisions == {"3"}


def test_members_list_every_member_with_etcds_ids(cluster: list[ServerProcess]) -> None:
    body = post(cluster[0].url, "/v3/cluster/member/list", {}).json()
    assert sorted(m["name"] for m in body["members"]) == ["m0", "m1", "m2"]
    ids = {_status(m)["header"]["member_id"] for m in cluster}  # type: ignore[index]
    assert ids == {m["ID"] for m in body["members"]}


def test_the_cluster_keeps_its_data_and_accepts_writes_after_the_leader_is_killed(
        cluster: list[ServerProcess]) -> None:
    leader = leader_of(cluster)
    for i in range(20):
        reply = post(leader.url, "/v3/kv/put", {"key": b64(f"a{i}"), "value": b64(str(i))})
        assert reply.status_code == 200
    leader.kill()
    survivors = [m for m in cluster if m is not leader]
    new_leader = leader_of(survivors)
    assert new_leader is not leader
    after = {"key": b64("after"), "value": b64("x")}
    until(lambda: post(survivors[0].url, "/v3/kv/put", after).status_code == 200,
          "a write after the failover")
    for member in survivors:
        assert [_value(member, f"a{i}") for i in range(20)] == [str(i) for i in range(20)]
        assert _value(member, "after") == "x"
    leader.launch()
    leader.wait_healthy()
    until(lambda: _value(leader, "after", serializable=True) == "x", "the restarted member to catch up")


def test_leases_are_kept_by_the_leader_and_followers_ask_it(cluster: list[ServerProcess]) -> None:
    leader = leader_of(cluster)
    follower = next(m for m in cluster if m is not leader)
    assert post(follower.url, "/v3/lease/grant", {"TTL": 30, "ID": "77"}).status_code == 200
    assert post(follower.url, "/v3/kv/put", {"key": b64("l"), "value": b64("v"), "lease": "77"}
                 ).status_code == 200
    alive = post(leader.url, "/v3/lease/timetolive", {"ID": "77", "keys": True}).json()
    assert alive["keys"] == [b64("l")] and int(alive["TTL"]) > 25
    forwarded = post(follower.url, "/v3/lease/timetolive", {"ID": "77"}).json()
    assert forwarded["grantedTTL"] == "30" and int(forwarded["TTL"]) > 25
    assert post(follower.url, "/v3/lease/revoke", {"ID": "77"}).status_code == 200
    assert all(_value(m, "l") is None for m in cluster)


def _lines(member: ServerProcess, event: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in member.log_path.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == event]


def _logged_leader(member: ServerProcess, leader: str) -> bool:
    return any(line["leader"] == leader for line in _lines(member, "leader changed"))


def _member_id(member: ServerProcess) -> str:
    return f"{int(_status(member)['header']['member_id']):x}"  # type: ignore[index]


def test_members_log_elections_and_leader_changes(cluster: list[ServerProcess]) -> None:
    """Issue 10, item 5: each member logs the leader it follows (term, leader), and a new one."""
    leader = leader_of(cluster)
    first, ids = _member_id(leader), {m.url: _member_id(m) for m in cluster}
    for member in cluster:
        seen = _lines(member, "leader changed")
        assert seen and seen[-1]["leader"] == first and seen[-1]["member"] == ids[member.url], seen
    term = int(str(_lines(leader, "leader changed")[-1]["term"]))
    assert any(int(str(line["term"])) == term for line in _lines(leader, "election started"))
    leader.kill()
    survivors = [m for m in cluster if m is not leader]
    second = _member_id(leader_of(survivors))
    for member in survivors:
        until(partial(_logged_leader, member, second), f"{member.url} to log the new leader", member.log_path)
        [changed] = [line for line in _lines(member, "leader changed") if line["leader"] == second]
        assert int(str(changed["term"])) > term and changed["previous"] in (first, None), changed
    elected = next(m for m in survivors if ids[m.url] == second)
    assert any(int(str(line["term"])) > term for line in _lines(elected, "election started"))
