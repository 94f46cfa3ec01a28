"""Leases on a three-member cluster: followers forward keep-alive and time-to-live to the leader,
and a lease kept alive through a follower outlives the leader's crash."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from confagent.testing import ServerProcess, store_cluster

DEADLINE_S = 30.0
FAILOVER_TTL = 5
KEEPALIVE_EVERY_S = 0.5


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _post(url: str, path: str, body: object) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=10)


def _leader(members: list[ServerProcess]) -> ServerProcess:
    """The member every given member names as leader, once they agree (bounded wait)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            statuses = [_post(m.url, "/v3/maintenance/status", {}).json() for m in members]
        except httpx.HTTPError:
            statuses = []
        leaders = {s.get("leader") for s in statuses}
        if len(leaders) == 1 and None not in leaders:
            for member, status in zip(members, statuses, strict=True):
                if status["header"]["member_id"] in leaders:
                    return member
        time.sleep(0.1)
    raise AssertionError("the members did not agree on a leader")


def _has_key(member: ServerProcess, key: str) -> bool:
    reply = _post(member.url, "/v3/kv/range", {"key": _b64(key)})
    assert reply.status_code == 200, reply.text
    return bool(reply.json().get("kvs"))


def _keep_alive(member: ServerProcess, lease_id: str) -> httpx.Response:
    return _post(member.url, "/v3/lease/keepalive", {"ID": lease_id})


def _without_header(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != "header"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    members = store_cluster(tmp_path, 3)
    for member in members:
        member.launch()
    try:
        for member in members:
            member.wait_healthy()
        yield members
    finally:
        for member in members:
            member.stop()


def test_a_follower_answers_lease_calls_as_the_leader_does(cluster: list[ServerProcess]) -> None:
    leader = _leader(cluster)
    follower = next(m for m in cluster if m is not leader)
    assert _post(follower.url, "/v3/lease/grant", {"TTL": 30, "ID": "77"}).status_code == 200
    put = {"key": _b64("leased"), "value": _b64("v"), "lease": "77"}
    assert _post(follower.url, "/v3/kv/put", put).status_code == 200

    for member in (follower, leader):
        kept = _keep_alive(member, "77")
        assert kept.status_code == 200, kept.text
        assert _without_header(kept.json()["result"]) == {"ID": "77", "TTL": "30"}
        unknown = _keep_alive(member, "999").json()["result"]
        assert _without_header(unknown) == {"ID": "999"}

        alive = _post(member.url, "/v3/lease/timetolive", {"ID": "77", "keys": True}).json()
        assert alive["grantedTTL"] == "30" and 28 <= int(alive["TTL"]) <= 30
        assert alive["keys"] == [_b64("leased")]
        gone = _post(member.url, "/v3/lease/timetolive", {"ID": "999", "keys": True}).json()
        assert _without_header(gone) == {"ID": "999", "TTL": "-1"}

        leases = _post(member.url, "/v3/lease/leases", {}).json()
        assert leases["leases"] == [{"ID": "77"}]


class KeepAliver:
    """A thread renewing one lease through one member at a steady pace, recording the TTLs."""

    def __init__(self, member: ServerProcess, lease_id: str) -> None:
        self.ttls: list[int] = []
        self._member = member
        self._lease_id = lease_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> KeepAliver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(DEADLINE_S)

    def _run(self) -> None:
        while not self._stop.wait(KEEPALIVE_EVERY_S):
            try:
                reply = _keep_alive(self._member, self._lease_id)
            except httpx.HTTPError:
                continue  # a forwarded call may time out while the members elect
            if reply.status_code == 200:
                self.ttls.append(int(reply.json()["result"].get("TTL", 0)))


def test_a_lease_kept_alive_through_a_follower_survives_the_leaders_crash(
        cluster: list[ServerProcess]) -> None:
    leader = _leader(cluster)
    follower, other = (m for m in cluster if m is not leader)
    grant = {"TTL": FAILOVER_TTL, "ID": "88"}
    assert _post(follower.url, "/v3/lease/grant", grant).status_code == 200
    put = {"key": _b64("session"), "value": _b64("alive"), "lease": "88"}
    assert _post(follower.url, "/v3/kv/put", put).status_code == 200

    with KeepAliver(follower, "88") as keeper:
        leader.kill()
        assert _leader([follower, other]) is not leader
        renewed_before = len(keeper.ttls)
        # Longer than the TTL: only renewals the new leader accepted can keep the key.
        kept_until = time.monotonic() + FAILOVER_TTL + 2
        while time.monotonic() < kept_until:
            assert _has_key(follower, "session") and _has_key(other, "session")
            time.sleep(0.2)
        assert len(keeper.ttls) > renewed_before
        assert keeper.ttls[renewed_before:] == [FAILOVER_TTL] * (len(keeper.ttls) - renewed_before)

    # The new leader keeps the deadline too: without renewals, the lease expires.
    deadline = time.monotonic() + FAILOVER_TTL + DEADLINE_S
    while _has_key(other, "session"):
        assert time.monotonic() < deadline, "the lease did not expire under the new leader"
        time.sleep(0.2)
    assert _post(other.url, "/v3/lease/timetolive", {"ID": "88"}).json()["TTL"] == "-1"


def test_a_lease_call_with_no_leader_left_fails_with_etcds_error(cluster: list[ServerProcess]) -> None:
    leader = _leader(cluster)
    survivor = next(m for m in cluster if m is not leader)
    others = [m for m in cluster if m is not survivor]
    assert _post(survivor.url, "/v3/lease/grant", {"TTL": 30, "ID": "99"}).status_code == 200
    for member in others:
        member.kill()
    refused = _keep_alive(survivor, "99")
    assert refused.status_code == 503
    assert refused.json() == {"error": "etcdserver: no leader", "message": "etcdserver: no leader",
                              "code": 14}
