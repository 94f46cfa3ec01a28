"""confagent against a real etcd 3.4: watch streams and leases.

Watch answers are compared as flattened event lists (etcd batches catch-up
events by timing), plus the created/canceled messages; lease answers with
explicit IDs so both servers agree on them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import orjson
import pytest

from confagent.testing import b64, until
from tests.e2e.differential import Pair, normalize, prefix_end

pytestmark = pytest.mark.etcd

Json = Any
WATCH_WAIT_S = 5.0


def _watch_lines(url: str, body: bytes, until: int,
                 created: threading.Event | None = None) -> list[Json]:
    """Open a watch stream and collect ``until`` result messages (bounded by a deadline).
    ``created`` is set once the first message (the 'created' answer) has arrived."""
    lines: list[Json] = []
    deadline = time.monotonic() + WATCH_WAIT_S
    with httpx.Client(timeout=httpx.Timeout(WATCH_WAIT_S)) as client, client.stream(
            "POST", url + "/v3/watch", content=body) as response:
        assert response.status_code == 200, response.read()
        try:
            for line in response.iter_lines():
                if line.strip():
                    lines.append(orjson.loads(line)["result"])
                    if created is not None:
                        created.set()
                if len(lines) >= until or time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass  # fewer messages than expected: the comparison will say which
    return lines


def _events(messages: list[Json]) -> list[Json]:
    return [normalize(e) for m in messages for e in m.get("events", [])]


def _controls(messages: list[Json]) -> list[Json]:
    """The non-event messages (created, canceled, progress), without headers."""
    return [{k: v for k, v in m.items() if k != "header"} for m in messages if "events" not in m]


def _seed(pair: Pair) -> None:
    for name in "abcd":
        pair.same("/v3/kv/put", {"key": b64(f"app/{name}"), "value": b64(f"val-{name}")})
    pair.same("/v3/kv/put", {"key": b64("app/a"), "value": b64("val-z")})
    pair.same("/v3/kv/txn", {"success": [
        {"request_put": {"key": b64("app/e"), "value": b64("e")}},
        {"request_put": {"key": b64("app/f"), "value": b64("f")}}]})
    pair.same("/v3/kv/deleterange", {"key": b64("app/b"), "range_end": b64("app/f")})


def _both(pair: Pair, body: bytes, until: int) -> tuple[list[Json], list[Json]]:
    theirs = _watch_lines(str(pair.etcd.base_url), body, until)
    ours = _watch_lines(str(pair.ours.base_url), body, until)
    return theirs, ours


@pytest.mark.parametrize("create", [
    {"key": b64("app/"), "range_end": prefix_end("app/"), "start_revision": "2"},
    {"key": b64("app/"), "range_end": prefix_end("app/"), "start_revision": "2", "prev_kv": True},
    {"key": b64("app/a"), "start_revision": "1", "filters": ["NODELETE"]},
    {"key": b64("app/"), "range_end": prefix_end("app/"), "start_revision": "4",
     "filters": ["NOPUT"], "prev_kv": True},
    {"key": b64("app/"), "range_end": prefix_end("app/"), "start_revision": 7},
])
def test_historical_watch_replays_the_same_events(pair: Pair, create: Json) -> None:
    _seed(pair)
    body = orjson.dumps({"create_request": create})
    expected = pair.same("/v3/kv/range", {"key": b64("\0"), "range_end": b64("\0"),
                                          "count_only": True})
    assert expected.status == 200
    theirs = _watch_lines(str(pair.etcd.base_url), body, until=2)
    ours = _watch_lines(str(pair.ours.base_url), body, until=2)
    assert _controls(ours) == _controls(theirs)
    assert _events(ours) == _events(theirs)


def test_live_watch_sees_puts_txns_and_deletes_in_order(pair: Pair) -> None:
    create = {"create_request": {"key": b64("live/"), "range_end": prefix_end("live/"),
                                 "prev_kv": True}}
    results: dict[str, list[Json]] = {}
    created = {"etcd": threading.Event(), "ours": threading.Event()}

    def watch(name: str, url: str) -> None:
        results[name] = _watch_lines(url, orjson.dumps(create), until=5, created=created[name])

    threads = [threading.Thread(target=watch, args=(n, str(c.base_url)))
               for n, c in (("etcd", pair.etcd), ("ours", pair.ours))]
    for thread in threads:
        thread.start()
    assert all(event.wait(WATCH_WAIT_S) for event in created.values())
    pair.same("/v3/kv/put", {"key": b64("live/e"), "value": b64("1")})
    pair.same("/v3/kv/put", {"key": b64("live/e"), "value": b64("2")})
    pair.same("/v3/kv/txn", {"success": [{"request_put": {"key": b64("live/f"), "value": b64("f")}},
                                         {"request_put": {"key": b64("live/g"), "value": b64("g")}}]})
    pair.same("/v3/kv/deleterange", {"key": b64("live/e"), "range_end": b64("live/g")})
    for thread in threads:
        thread.join(WATCH_WAIT_S + 1)
    assert _events(results["ours"]) == _events(results["etcd"])
    assert len(_events(results["ours"])) == 6


def test_several_watches_on_one_stream(pair: Pair) -> None:
    _seed(pair)
    requests = [
        {"create_request": {"key": b64("app/a")}},
        {"create_request": {"key": b64("app/a"), "watch_id": "7"}},
        {"create_request": {"key": b64("app/a"), "watch_id": "7"}},
        {"progress_request": {}},
        {"cancel_request": {"watch_id": "7"}},
        {"cancel_request": {"watch_id": "99"}},
    ]
    body = b"".join(orjson.dumps(r) for r in requests)
    theirs, ours = _both(pair, body, until=5)
    assert normalize(ours) == normalize(theirs)


def test_a_watch_id_is_not_given_again_after_a_cancel(pair: Pair) -> None:
    """etcdctl elect --listen's observer cancels its watch and opens another on the same stream: a
    reused id made clientv3 close the new watch on the old one's cancel answer."""
    requests = [
        {"create_request": {"key": b64("app/a")}},
        {"cancel_request": {"watch_id": "0"}},
        {"create_request": {"key": b64("app/b")}},
        {"create_request": {"key": b64("app/c")}},
    ]
    theirs, ours = _both(pair, b"".join(orjson.dumps(r) for r in requests), until=4)
    assert normalize(ours) == normalize(theirs)
    assert [m.get("watch_id", "0") for m in _controls(ours)] == ["0", "0", "1", "2"]


def test_compacted_start_revision_cancels_the_watch(pair: Pair) -> None:
    _seed(pair)
    pair.same("/v3/kv/compaction", {"revision": "5"})
    body = orjson.dumps({"create_request": {"key": b64("app/a"), "start_revision": "2"}})
    theirs, ours = _both(pair, body, until=2)
    assert normalize(ours) == normalize(theirs)


def test_bad_first_watch_object_is_a_plain_500(pair: Pair) -> None:
    pair.same_error("/v3/watch", raw=b'{"create_request":{"key":"!!!!"}}')


def _grant(pair: Pair, lease_id: str, ttl: int) -> None:
    pair.same("/v3/lease/grant", {"TTL": ttl, "ID": lease_id})


def test_lease_grant_revoke_and_attached_keys(pair: Pair) -> None:
    _grant(pair, "7000", 600)
    _grant(pair, "5000", 1)
    pair.same_error("/v3/lease/grant", {"TTL": 30, "ID": 7000})
    pair.same_error("/v3/lease/grant", {"TTL": "9000000001"})
    pair.same("/v3/kv/put", {"key": b64("svc/a"), "value": b64("1"), "lease": "7000"})
    pair.same("/v3/kv/put", {"key": b64("svc/b"), "value": b64("2"), "lease": "7000"})
    pair.same("/v3/kv/put", {"key": b64("svc/a"), "value": b64("3"), "ignore_lease": True})
    pair.same("/v3/kv/range", {"key": b64("svc/"), "range_end": prefix_end("svc/")})
    pair.same("/v3/kv/put", {"key": b64("svc/a"), "value": b64("4")})
    pair.same("/v3/kv/range", {"key": b64("svc/a")})
    pair.same("/v3/kv/put", {"key": b64("svc/a"), "value": b64("5"), "lease": "7000"})
    pair.same("/v3/kv/txn", {"compare": [{"key": b64("svc/a"), "target": "LEASE",
                                          "result": "EQUAL", "lease": "7000"}],
                             "success": [{"request_range": {"key": b64("svc/a")}}]})
    pair.same_error("/v3/kv/put", {"key": b64("svc/c"), "lease": "999"})
    pair.same("/v3/lease/revoke", {"ID": "7000"})
    pair.same("/v3/kv/range", {"key": b64("svc/"), "range_end": prefix_end("svc/")})
    pair.same_error("/v3/lease/revoke", {"ID": "7000"})
    pair.same("/v3/kv/lease/revoke", {"ID": "5000"})
    pair.same("/v3/lease/leases", {})
    pair.same("/v3/lease/timetolive", {"ID": "999", "keys": True})
    pair.same("/v3/kv/lease/timetolive", {})


def test_lease_time_to_live_and_keepalive(pair: Pair) -> None:
    _grant(pair, "4242", 30)
    pair.same("/v3/kv/put", {"key": b64("k"), "value": b64("v"), "lease": "4242"})
    theirs, ours = pair.call("/v3/lease/timetolive", {"ID": "4242", "keys": True})
    assert ours.status == theirs.status == 200
    assert ours.body["keys"] == theirs.body["keys"] and ours.body["grantedTTL"] == "30"
    assert int(ours.body["TTL"]) in (29, 30)
    theirs, ours = pair.call("/v3/lease/keepalive", raw=b'{"ID":"4242"}{"ID":"999"}')
    assert normalize(ours.body) == normalize(theirs.body)


def test_a_short_lease_expires_and_deletes_its_keys(pair: Pair) -> None:
    _grant(pair, "5000", 1)
    pair.same("/v3/kv/put", {"key": b64("exp/k"), "value": b64("v"), "lease": "5000"})

    def expired_on_both() -> bool:
        theirs, ours = pair.call("/v3/kv/range", {"key": b64("exp/k")})
        return "kvs" not in ours.body and "kvs" not in theirs.body

    until(expired_on_both, "the key to go with its lease on both", deadline_s=10, pause_s=0.2)
    pair.same("/v3/kv/range", {"key": b64("exp/k")})
    pair.same("/v3/lease/timetolive", {"ID": "5000"})


def test_a_large_catch_up_arrives_joined_as_etcds_gateway_sends_it(pair: Pair) -> None:
    value = b64(b"v" * 600_000)
    for name in "abc":
        pair.same("/v3/kv/put", {"key": b64(f"big/{name}"), "value": value})
    body = orjson.dumps({"create_request": {"key": b64("big/"), "range_end": prefix_end("big/"),
                                            "start_revision": "2", "fragment": True}})
    theirs, ours = _both(pair, body, until=2)
    shape = [(m.get("fragment", False), len(m.get("events", []))) for m in theirs]
    assert _events(ours) == _events(theirs) and len(_events(ours)) == 3, shape
    assert [m.get("fragment", False) for m in ours] == [m.get("fragment", False) for m in theirs]
