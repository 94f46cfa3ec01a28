"""The lock and election services on a three-member cluster: every member serves them, a follower as the
leader does (its writes go to the leader, its waits follow its own applied state), and a lock held
through a follower outlives the leader's crash, its waiter served once the holder lets go."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import orjson

from confagent.testing import DEADLINE_S, ServerProcess, b64, leader_of, post, unb64, until

Json = Any


def _count(member: ServerProcess, prefix: str) -> int:
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = post(member.url, "/v3/kv/range", {"key": b64(prefix), "range_end": b64(end), "count_only": True})
    return int(body.json().get("count", 0))


def _ok(member: ServerProcess, path: str, body: Json) -> Json:
    reply = post(member.url, path, body)
    assert reply.status_code == 200, reply.text
    answer: Json = reply.json()
    return answer


def _member_id(member: ServerProcess) -> str:
    header: str = _ok(member, "/v3/maintenance/status", {})["header"]["member_id"]
    return header


def test_followers_serve_locks_and_elections_as_the_leader_does(cluster: list[ServerProcess]) -> None:
    leader = leader_of(cluster)
    one, other = (m for m in cluster if m is not leader)
    for lease, member in (("1000", one), ("2000", other), ("3000", other)):
        _ok(member, "/v3/lease/grant", {"TTL": 60, "ID": lease})
    held = _ok(one, "/v3/lock/lock", {"name": b64("L"), "lease": "1000"})
    assert held["header"]["member_id"] == _member_id(one)
    with ThreadPoolExecutor(2) as pool:
        waiter = pool.submit(post, other.url, "/v3/lock/lock", {"name": b64("L"), "lease": "2000"},
                             DEADLINE_S)
        gone = _send_and_keep_open(leader, "/v3/lock/lock", {"name": b64("L"), "lease": "3000"})
        until(lambda: _count(leader, "L/") == 3, "both waiters queued")
        gone.close()
        until(lambda: _count(one, "L/") == 2, "the waiter that left to lose its key, on a follower too")
        _ok(leader, "/v3/lock/unlock", {"key": held["key"]})
        got = waiter.result(DEADLINE_S)
    assert got.status_code == 200, got.text
    assert unb64(got.json()["key"]) == "L/7d0"
    assert got.json()["header"]["member_id"] == _member_id(other)

    won = _ok(other, "/v3/election/campaign", {"name": b64("E"), "lease": "2000", "value": b64("v")})
    for member in cluster:
        kv = _ok(member, "/v3/election/leader", {"name": b64("E")})["kv"]
        assert (unb64(kv["key"]), unb64(kv["value"])) == ("E/7d0", "v")
    _ok(one, "/v3/election/proclaim", {"leader": won["leader"], "value": b64("w")})
    _ok(leader, "/v3/election/resign", {"leader": won["leader"]})
    refused = post(one.url, "/v3/election/leader", {"name": b64("E")})
    assert (refused.status_code, refused.json()["message"]) == (500, "election: no leader")


def _send_and_keep_open(member: ServerProcess, path: str, body: Json) -> socket.socket:
    parts = urlsplit(member.url)
    content = orjson.dumps(body)
    connection = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
    connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(content)}\r\n\r\n".encode() + content)
    return connection


def test_a_lock_held_through_a_follower_outlives_the_leaders_crash(cluster: list[ServerProcess]) -> None:
    leader = leader_of(cluster)
    holder, waiter = (m for m in cluster if m is not leader)
    _ok(holder, "/v3/lease/grant", {"TTL": 60, "ID": "1000"})
    _ok(waiter, "/v3/lease/grant", {"TTL": 60, "ID": "2000"})
    held = _ok(holder, "/v3/lock/lock", {"name": b64("L"), "lease": "1000"})
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(post, waiter.url, "/v3/lock/lock", {"name": b64("L"), "lease": "2000"},
                              DEADLINE_S)
        until(lambda: _count(waiter, "L/") == 2, "the waiter queued")
        leader.kill()
        leader_of([holder, waiter])
        assert _count(waiter, "L/") == 2 and not waiting.done()
        _ok(holder, "/v3/lock/unlock", {"key": held["key"]})
        got = waiting.result(DEADLINE_S)
    assert got.status_code == 200, got.text
    assert unb64(got.json()["key"]) == "L/7d0"
