"""Leases on a three-member cluster: followers forward keep-alive and time-to-live to the leader,
and a lease kept alive through a follower outlives the leader's crash."""

from __future__ import annotations

import threading
import time

import httpx

from confagent.testing import DEADLINE_S, ServerProcess, b64, leader_of, post, until

FAILOVER_TTL = 5
KEEPALIVE_EVERY_S = 0.5


def _has_key(member: ServerProcess, key: str) -> bool:
    reply = post(member.url, "/v3/kv/range", {"key": b64(key), "serializable": True})  # no leader needed
    assert reply.status_code == 200, reply.text
    return bool(reply.json().get("kvs"))


def _keep_alive(member: ServerProcess, lease_id: str) -> httpx.Response:
    return post(member.url, "/v3/lease/keepalive", {"ID": lease_id})


def _without_header(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != "header"}


def test_a_follower_answers_lease_calls_as_the_leader_does(cluster: list[ServerProcess]) -> None:
    leader = leader_of(cluster)
    follower = next(m for m in cluster if m is not leader)
    assert post(follower.url, "/v3/lease/grant", {"TTL": 30, "ID": "77"}).status_code == 200
    put = {"key": b64("leased"), "value": b64("v"), "lease": "77"}
    assert post(follower.url, "/v3/kv/put", put).status_code == 200

    for member in (follower, leader):
        kept = _keep_alive(member, "77")
        assert kept.status_code == 200, kept.text
        assert _without_header(kept.json()["result"]) == {"ID": "77", "TTL": "30"}
        unknown = _keep_alive(member, "999").json()["result"]
        assert _without_header(unknown) == {"ID": "999"}

        alive = post(member.url, "/v3/lease/timetolive", {"ID": "77", "keys": True}).json()
        assert alive["grantedTTL"] == "30" and 28 <= int(alive["TTL"]) <= 30
        assert alive["keys"] == [b64("leased")]
        gone = post(member.url, "/v3/lease/timetolive", {"ID": "999", "keys": True}).json()
        assert _without_header(gone) == {"ID": "999", "TTL": "-1"}

        leases = post(member.url, "/v3/lease/leases", {}).json()
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
    leader = leader_of(cluster)
    follower, other = (m for m in cluster if m is not leader)
    grant = {"TTL": FAILOVER_TTL, "ID": "88"}
    assert post(follower.url, "/v3/lease/grant", grant).status_code == 200
    put = {"key": b64("session"), "value": b64("alive"), "lease": "88"}
    assert post(follower.url, "/v3/kv/put", put).status_code == 200

    with KeepAliver(follower, "88") as keeper:
        leader.kill()
        assert leader_of([follower, other]) is not leader
        renewed_before = len(keeper.ttls)
        # Longer than the TTL: only renewals the new leader accepted can keep the key.
        kept_until = time.monotonic() + FAILOVER_TTL + 2
        while time.monotonic() < kept_until:
            assert _has_key(follower, "session") and _has_key(other, "session")
            time.sleep(0.2)
        assert len(keeper.ttls) > renewed_before
        assert keeper.ttls[renewed_before:] == [FAILOVER_TTL] * (len(keeper.ttls) - renewed_before)

    # The new leader keeps the deadline too: without renewals, the lease expires.
    until(lambda: not _has_key(other, "session"), "the lease to expire under the new leader",
          deadline_s=FAILOVER_TTL + DEADLINE_S, pause_s=0.2)
    assert post(other.url, "/v3/lease/timetolive", {"ID": "88"}).json()["TTL"] == "-1"


def test_a_lease_call_with_no_leader_left_fails_with_etcds_error(cluster: list[ServerProcess]) -> None:
    leader = leader_of(cluster)
    survivor = next(m for m in cluster if m is not leader)
    others = [m for m in cluster if m is not survivor]
    assert post(survivor.url, "/v3/lease/grant", {"TTL": 30, "ID": "99"}).status_code == 200
    for member in others:
        member.kill()
    refused = _keep_alive(survivor, "99")
    assert refused.status_code == 503
    assert refused.json() == {"error": "etcdserver: no leader", "message": "etcdserver: no leader",
                              "code": 14}
