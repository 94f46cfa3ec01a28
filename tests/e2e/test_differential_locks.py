"""confagent against a real etcd 3.4: the lock and election services on the JSON gateway.

Leases are granted with explicit IDs on both servers, so lock and election keys
(``NAME/<lease in hex>``) are the same on both and answers compare whole, but
for the IDs ``normalize`` masks. A call that waits for its turn runs in a
thread against each server; the test waits until both have queued their key
(a range says so) before it lets them through.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from confagent.testing import DEADLINE_S, b64, unb64, until
from tests.e2e.differential import Answer, Pair, normalize, prefix_end

pytestmark = pytest.mark.etcd

Json = Any


def _grant(pair: Pair, *lease_ids: str) -> None:
    for lease_id in lease_ids:
        pair.same("/v3/lease/grant", {"TTL": 60, "ID": lease_id})


def _queued(pair: Pair, prefix: str) -> list[Json]:
    """The keys queued under ``prefix`` on both servers, once both agree."""
    answer = pair.same("/v3/kv/range", {"key": b64(prefix), "range_end": prefix_end(prefix)})
    kvs: list[Json] = answer.body.get("kvs", [])
    return kvs


def _queue_length(url: str, prefix: str) -> int:
    body = httpx.post(url + "/v3/kv/range", json={"key": b64(prefix), "range_end": prefix_end(prefix),
                                                  "count_only": True}, timeout=10).json()
    return int(body.get("count", 0))


@contextmanager
def _waiting(pair: Pair, path: str, body: Json, prefix: str, queued: int,
             renewing: str = "") -> Iterator[tuple[Future[Answer], ...]]:
    """The same waiting call to both servers; entered once each has ``queued`` keys under ``prefix``.
    The lease ``renewing`` is kept alive until then."""
    urls = (str(pair.etcd.base_url), str(pair.ours.base_url))

    def call(url: str) -> Answer:
        with httpx.Client(timeout=DEADLINE_S) as client:
            return Answer.of(client.post(url + path, content=orjson.dumps(body)))

    def reached(url: str) -> bool:
        if renewing:
            httpx.post(url + "/v3/lease/keepalive", json={"ID": renewing}, timeout=10)
        return _queue_length(url, prefix) == queued

    with ThreadPoolExecutor(2) as pool:
        answers = tuple(pool.submit(call, url) for url in urls)
        for url in urls:
            until(lambda url=url: reached(url), f"{queued} keys under {prefix} at {url}")
        yield answers


def _same(theirs: Answer, ours: Answer) -> None:
    assert (ours.status, normalize(ours.body)) == (theirs.status, normalize(theirs.body))


def test_lock_unlock_and_a_lock_held_already(pair: Pair) -> None:
    _grant(pair, "1000")
    held = pair.same("/v3/lock/lock", {"name": b64("L"), "lease": "1000"})
    assert unb64(held.body["key"]) == "L/3e8"
    pair.same("/v3/lock/lock", {"name": b64("L"), "lease": 1000})  # its own key, at once
    assert [unb64(kv["key"]) for kv in _queued(pair, "L/")] == ["L/3e8"]
    pair.same("/v3/lock/unlock", {"key": held.body["key"]})
    pair.same("/v3/lock/unlock", {"key": held.body["key"]})  # gone already: no error
    pair.same("/v3/lock/lock", {"lease": "1000"})  # no name: the key is "/3e8"
    pair.same("/v3/lock/unlock", {"key": b64("/3e8")})


def test_a_waiter_gets_the_lock_when_the_holder_unlocks(pair: Pair) -> None:
    _grant(pair, "1000", "2000")
    held = pair.same("/v3/lock/lock", {"name": b64("L"), "lease": "1000"})
    with _waiting(pair, "/v3/lock/lock", {"name": b64("L"), "lease": "2000"}, "L/", 2) as (theirs, ours):
        pair.same("/v3/kv/put", {"key": b64("unrelated"), "value": b64("x")})
        pair.same("/v3/lock/unlock", {"key": held.body["key"]})
        _same(theirs.result(DEADLINE_S), ours.result(DEADLINE_S))
    assert unb64(ours.result().body["key"]) == "L/7d0"


def test_a_waiter_that_disconnects_leaves_no_key_and_the_next_gets_the_lock(pair: Pair) -> None:
    _grant(pair, "1000", "2000", "3000")
    held = pair.same("/v3/lock/lock", {"name": b64("L"), "lease": "1000"})
    gone = [_send_and_keep_open(str(c.base_url), "/v3/lock/lock", {"name": b64("L"), "lease": "2000"})
            for c in (pair.etcd, pair.ours)]
    for client in (pair.etcd, pair.ours):
        until(lambda url=str(client.base_url): _queue_length(url, "L/") == 2, "the waiter's key")
    for connection in gone:
        connection.close()
    for client in (pair.etcd, pair.ours):
        until(lambda url=str(client.base_url): _queue_length(url, "L/") == 1, "the waiter's key to go")
    assert [unb64(kv["key"]) for kv in _queued(pair, "L/")] == ["L/3e8"]
    with _waiting(pair, "/v3/lock/lock", {"name": b64("L"), "lease": "3000"}, "L/", 2) as (theirs, ours):
        pair.same("/v3/lock/unlock", {"key": held.body["key"]})
        _same(theirs.result(DEADLINE_S), ours.result(DEADLINE_S))
    assert unb64(ours.result().body["key"]) == "L/bb8"


def _send_and_keep_open(url: str, path: str, body: Json) -> socket.socket:
    """A request sent on a raw connection left open (closing it is the client going away)."""
    parts = urlsplit(url)
    content = orjson.dumps(body)
    connection = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
    connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(content)}\r\n\r\n".encode() + content)
    return connection


def test_a_lease_revoked_while_waiting_is_refused_where_etcd_3_4_grants_a_vanished_key(pair: Pair) -> None:
    """etcd 3.4 answers the waiter as if it held the lock, though its key went with its lease: a
    second holder. confagent answers as etcd 3.5 does (``errors.LockSessionExpired``)."""
    _grant(pair, "1000", "2000")
    held = pair.same("/v3/lock/lock", {"name": b64("L"), "lease": "1000"})
    with _waiting(pair, "/v3/lock/lock", {"name": b64("L"), "lease": "2000"}, "L/", 2) as (theirs, ours):
        pair.same("/v3/lease/revoke", {"ID": "2000"})
        pair.same("/v3/lock/unlock", {"key": held.body["key"]})
        etcd_answer, our_answer = theirs.result(DEADLINE_S), ours.result(DEADLINE_S)
    assert etcd_answer.status == 200 and unb64(etcd_answer.body["key"]) == "L/7d0"
    assert _queued(pair, "L/") == []  # the key etcd granted is gone
    assert (our_answer.status, our_answer.body) == (500, {
        "error": "mutex: session is expired", "message": "mutex: session is expired", "code": 2})


@pytest.mark.parametrize(("path", "body"), [
    ("/v3/lock/lock", {"name": b64("L"), "lease": "12345"}),
    ("/v3/lock/unlock", {}),
    ("/v3/election/campaign", {"name": b64("E"), "lease": "12345", "value": b64("v")}),
    ("/v3/election/proclaim", {}),
    ("/v3/election/proclaim", {"leader": None, "value": b64("v")}),
    ("/v3/election/proclaim", {"leader": {"name": b64("E"), "key": b64("E/3e8"), "rev": "2",
                                          "lease": "1000"}, "value": b64("v")}),
    ("/v3/election/proclaim", {"leader": {}, "value": b64("v")}),
    ("/v3/election/resign", {}),
    ("/v3/election/leader", {"name": b64("E")}),
    ("/v3/election/leader", {}),
    ("/v3/lock/lock", {"name": "not base64!"}),
    ("/v3/lock/lock", {"lease": "ten"}),
    ("/v3/election/campaign", {"name": ["E"]}),
    ("/v3/election/resign", {"leader": "E"}),
    ("/v3/election/observe", {"name": 7}),
    ("/v3/lock/lock", {"name": b64("n" * 1_000_000), "lease": "12345"}),  # its txn: "request is too large"
    ("/v3/election/campaign", {"name": b64("E"), "lease": "12345", "value": b64("v" * 1_600_000)}),
])
def test_refusals_answer_as_etcd(pair: Pair, path: str, body: Json) -> None:
    pair.same(path, body)


@pytest.mark.parametrize("path", ["/v3/lock/lock", "/v3/election/campaign", "/v3/election/observe"])
def test_malformed_bodies(pair: Pair, path: str) -> None:
    pair.same(path, raw=b'{"name":')


def test_calls_without_a_lease_get_one_of_sixty_seconds(pair: Pair) -> None:
    """A lease 0 is granted by the server (60 s, never renewed): keys and lease IDs differ, the rest not."""
    theirs, ours = pair.call("/v3/lock/lock", {"name": b64("L")})
    assert (ours.status, ours.body.keys()) == (theirs.status, theirs.body.keys())
    theirs, ours = pair.call("/v3/election/campaign", {"name": b64("E"), "value": b64("v")})
    assert ours.body["leader"].keys() == theirs.body["leader"].keys()
    for client, answer in ((pair.etcd, theirs), (pair.ours, ours)):
        lease = answer.body["leader"]["lease"]
        assert unb64(answer.body["leader"]["key"]) == f"E/{int(lease):x}"
        ttl = client.post("/v3/lease/timetolive", json={"ID": lease}).json()
        assert ttl["grantedTTL"] == "60"


def test_campaign_proclaim_leader_and_resign(pair: Pair) -> None:
    _grant(pair, "1000", "2000")
    won = pair.same("/v3/election/campaign", {"name": b64("E"), "lease": "1000", "value": b64("one")})
    first = won.body["leader"]
    pair.same("/v3/election/leader", {"name": b64("E")})
    pair.same("/v3/election/proclaim", {"leader": first, "value": b64("two")})
    pair.same("/v3/election/campaign", {"name": b64("E"), "lease": "1000", "value": b64("two")})
    pair.same("/v3/election/campaign", {"name": b64("E"), "lease": "1000", "value": b64("three")})
    pair.same("/v3/election/leader", {"name": b64("E")})
    with _waiting(pair, "/v3/election/campaign", {"name": b64("E"), "lease": "2000", "value": b64("b")},
                  "E/", 2) as (theirs, ours):
        pair.same("/v3/election/resign", {"leader": first})
        _same(theirs.result(DEADLINE_S), ours.result(DEADLINE_S))
    second = ours.result().body["leader"]
    pair.same("/v3/election/leader", {"name": b64("E")})
    pair.same("/v3/election/proclaim", {"leader": first, "value": b64("late")})
    pair.same("/v3/election/resign", {"leader": first})
    pair.same("/v3/election/resign", {"leader": {**second, "rev": "1"}})
    pair.same("/v3/election/resign", {"leader": second})
    pair.same("/v3/election/leader", {"name": b64("E")})


def _observe(url: str, name: str, count: int, first: threading.Event) -> list[Json]:
    """The first ``count`` results of an observe stream (bounded by the deadline)."""
    lines: list[Json] = []
    deadline = time.monotonic() + DEADLINE_S
    with httpx.Client(timeout=DEADLINE_S) as client, client.stream(
            "POST", url + "/v3/election/observe", json={"name": b64(name)}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.strip():
                lines.append(orjson.loads(line)["result"])
                first.set()
            if len(lines) >= count or time.monotonic() > deadline:
                break
    return lines


def test_observe_follows_values_and_leaders(pair: Pair) -> None:
    _grant(pair, "1000", "2000")
    first = pair.same("/v3/election/campaign", {"name": b64("E"), "lease": "1000", "value": b64("one")})
    seen = {"etcd": threading.Event(), "ours": threading.Event()}
    with ThreadPoolExecutor(2) as pool:
        streams = {name: pool.submit(_observe, str(client.base_url), "E", 4, seen[name])
                   for name, client in (("etcd", pair.etcd), ("ours", pair.ours))}
        assert all(event.wait(DEADLINE_S) for event in seen.values())
        pair.same("/v3/election/proclaim", {"leader": first.body["leader"], "value": b64("two")})
        with _waiting(pair, "/v3/election/campaign", {"name": b64("E"), "lease": "2000",
                                                      "value": b64("b")}, "E/", 2) as (theirs, ours):
            pair.same("/v3/election/resign", {"leader": first.body["leader"]})
            _same(theirs.result(DEADLINE_S), ours.result(DEADLINE_S))
        pair.same("/v3/election/proclaim", {"leader": ours.result().body["leader"], "value": b64("c")})
        etcd_lines, our_lines = streams["etcd"].result(DEADLINE_S), streams["ours"].result(DEADLINE_S)
    assert len(our_lines) == 4
    assert normalize(our_lines) == normalize(etcd_lines)


def test_observe_waits_for_a_first_candidate(pair: Pair) -> None:
    _grant(pair, "1000")
    seen = {"etcd": threading.Event(), "ours": threading.Event()}
    with ThreadPoolExecutor(2) as pool:
        streams = {name: pool.submit(_observe, str(client.base_url), "F", 2, seen[name])
                   for name, client in (("etcd", pair.etcd), ("ours", pair.ours))}
        won = pair.same("/v3/election/campaign", {"name": b64("F"), "lease": "1000", "value": b64("one")})
        assert all(event.wait(DEADLINE_S) for event in seen.values())
        pair.same("/v3/election/proclaim", {"leader": won.body["leader"], "value": b64("two")})
        etcd_lines, our_lines = streams["etcd"].result(DEADLINE_S), streams["ours"].result(DEADLINE_S)
    assert normalize(our_lines) == normalize(etcd_lines)


def test_a_leader_whose_lease_expires_hands_over(pair: Pair) -> None:
    pair.same("/v3/lease/grant", {"TTL": 2, "ID": "1000"})  # renewed until the second candidate waits
    _grant(pair, "2000")
    first = pair.same("/v3/election/campaign", {"name": b64("E"), "lease": "1000", "value": b64("a")})
    with _waiting(pair, "/v3/election/campaign", {"name": b64("E"), "lease": "2000", "value": b64("b")},
                  "E/", 2, renewing="1000") as (theirs, ours):
        _same(theirs.result(DEADLINE_S), ours.result(DEADLINE_S))  # once the first lease expired
    pair.same("/v3/election/leader", {"name": b64("E")})
    pair.same("/v3/election/proclaim", {"leader": first.body["leader"], "value": b64("late")})
