"""confagent against a real etcd 3.4 through gRPC: the Lock and Election services.

Leases are granted with explicit IDs on both servers, so lock and election keys
(``NAME/<lease in hex>``) are the same on both and answers compare whole. A
call that waits runs in a thread against each server; the test lets it through
once both have queued its key (a range says so). A waiting call whose deadline
expires, a holder or a leader whose lease expires (its process died: nobody
renews it): the servers answer alike and leave the same keys behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from confagent.testing import DEADLINE_S, Processes, until
from confagent.wire._pb import rpc_pb2, v3election_pb2, v3lock_pb2
from tests.e2e.grpc_differential import Answer, GrpcPair, Server, Stream, assert_same, pair_fixture

Json = Any
LOCK = "/v3lockpb.Lock/Lock"
UNLOCK = "/v3lockpb.Lock/Unlock"
ELECTION = "/v3electionpb.Election/"
GRANT = "/etcdserverpb.Lease/LeaseGrant"
RANGE = "/etcdserverpb.KV/Range"
LEASES = "/etcdserverpb.Lease/LeaseLeases"
KEEPALIVE = "/etcdserverpb.Lease/LeaseKeepAlive"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
         etcd_binary: str) -> Iterator[GrpcPair]:
    yield from pair_fixture(tmp_path_factory, session_processes)


def _grant(pair: GrpcPair, *lease_ids: int, ttl_s: int = 60) -> None:
    for lease_id in lease_ids:
        pair.same(GRANT, rpc_pb2.LeaseGrantRequest(TTL=ttl_s, ID=lease_id))


def _count(server: Server, prefix: bytes) -> int:
    answer = server.unary(RANGE, rpc_pb2.RangeRequest(key=prefix, range_end=prefix[:-1] + b"0",
                                                      count_only=True))
    return int(answer.body.get("count", 0))


def _keys(pair: GrpcPair, prefix: bytes) -> Answer:
    return pair.same(RANGE, rpc_pb2.RangeRequest(key=prefix, range_end=prefix[:-1] + b"0", keys_only=True))


@contextmanager
def _waiting(pair: GrpcPair, path: str, request: Any, prefix: bytes, queued: int, *,
             timeout_s: float = DEADLINE_S, renewing: int = 0,
             ) -> Iterator[tuple[Future[Answer], Future[Answer]]]:
    """The same waiting call to both servers; entered once each has ``queued`` keys under ``prefix``.
    The lease ``renewing`` is kept alive until then (so a short one outlives a slow start)."""
    def reached(server: Server) -> bool:
        if renewing:
            server.stream(KEEPALIVE, [rpc_pb2.LeaseKeepAliveRequest(ID=renewing)], count=1)
        return _count(server, prefix) == queued

    with ThreadPoolExecutor(2) as pool:
        theirs = pool.submit(pair.etcd.unary, path, request, timeout_s)
        ours = pool.submit(pair.ours.unary, path, request, timeout_s)
        for server in (pair.etcd, pair.ours):
            until(lambda s=server: reached(s), f"{queued} keys under {prefix!r} at {server.url}")
        yield theirs, ours


def _same(path: str, theirs: Future[Answer], ours: Future[Answer]) -> Answer:
    answers = theirs.result(DEADLINE_S), ours.result(DEADLINE_S)
    assert_same(path, "", *answers)
    return answers[0]


# -- Lock -----------------------------------------------------------------------------------
def test_lock_unlock_and_a_lock_held_already(pair: GrpcPair) -> None:
    _grant(pair, 1000)
    held = pair.same(LOCK, v3lock_pb2.LockRequest(name=b"L", lease=1000))
    assert held.body["key"] == "TC8zZTg="  # L/3e8
    pair.same(LOCK, v3lock_pb2.LockRequest(name=b"L", lease=1000))
    pair.same(UNLOCK, v3lock_pb2.UnlockRequest(key=b"L/3e8"))
    pair.same(UNLOCK, v3lock_pb2.UnlockRequest(key=b"L/3e8"))
    pair.same(LOCK, v3lock_pb2.LockRequest(lease=1000))
    pair.same(UNLOCK, v3lock_pb2.UnlockRequest(key=b"/3e8"))
    pair.same(UNLOCK, v3lock_pb2.UnlockRequest())


def test_lock_refusals(pair: GrpcPair) -> None:
    pair.same(LOCK, v3lock_pb2.LockRequest(name=b"R", lease=4242))
    pair.same(LOCK, v3lock_pb2.LockRequest(name=b"R" * (2 * 1024 * 1024 - 100), lease=4242))
    _keys(pair, b"R/")


def test_a_waiter_gets_the_lock_when_the_holder_unlocks(pair: GrpcPair) -> None:
    _grant(pair, 1100, 1200)
    pair.same(LOCK, v3lock_pb2.LockRequest(name=b"W", lease=1100))
    with _waiting(pair, LOCK, v3lock_pb2.LockRequest(name=b"W", lease=1200), b"W/", 2) as answers:
        pair.same(UNLOCK, v3lock_pb2.UnlockRequest(key=b"W/44c"))
        assert _same(LOCK, *answers).body["key"] == "Vy80YjA="  # W/4b0


def test_a_waiter_whose_deadline_expires_leaves_no_key(pair: GrpcPair) -> None:
    """A deadline that expires mid-request: DEADLINE_EXCEEDED, and the waiter's key goes with it."""
    _grant(pair, 1300, 1400)
    pair.same(LOCK, v3lock_pb2.LockRequest(name=b"D", lease=1300))
    with _waiting(pair, LOCK, v3lock_pb2.LockRequest(name=b"D", lease=1400), b"D/", 2,
                  timeout_s=5.0) as (theirs, ours):
        # The client's deadline, or etcd's own when its answer beats the client's timer: then
        # UNKNOWN 'context deadline exceeded' (its handler's context error). Either is the deadline's.
        for answer in (theirs.result(DEADLINE_S), ours.result(DEADLINE_S)):
            assert answer.code.name == "DEADLINE_EXCEEDED" or (
                answer.code.name, answer.details) == ("UNKNOWN", "context deadline exceeded"), answer
        assert ours.result().code.name == "DEADLINE_EXCEEDED"
    for server in (pair.etcd, pair.ours):
        until(lambda s=server: _count(s, b"D/") == 1, f"the waiter's key gone at {server.url}")
    _keys(pair, b"D/")


def test_a_holder_whose_lease_expires_hands_the_lock_over(pair: GrpcPair) -> None:
    """The holder's process died: nobody renews its lease; when it expires the waiter has the lock."""
    _grant(pair, 1500, ttl_s=2)
    _grant(pair, 1600)
    pair.same(LOCK, v3lock_pb2.LockRequest(name=b"X", lease=1500))
    waiter = v3lock_pb2.LockRequest(name=b"X", lease=1600)
    with _waiting(pair, LOCK, waiter, b"X/", 2, renewing=1500) as answers:
        assert _same(LOCK, *answers).body["key"] == "WC82NDA="  # X/640
    _keys(pair, b"X/")
    theirs, ours = pair.both(LEASES, rpc_pb2.LeaseLeasesRequest())
    assert {"ID": "1500"} not in ours.body["leases"]
    assert sorted(ours.body["leases"], key=repr) == sorted(theirs.body["leases"], key=repr)


HOLDER = """
import sys, threading, time
import grpc
from confagent.wire._pb import rpc_pb2, v3lock_pb2
address, lease_id = sys.argv[1], int(sys.argv[2])
channel = grpc.insecure_channel(address)
def unary(path, request, reply):
    return channel.unary_unary(path, request_serializer=type(request).SerializeToString,
                               response_deserializer=reply.FromString)(request, timeout=10)
unary("/etcdserverpb.Lease/LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=2, ID=lease_id),
      rpc_pb2.LeaseGrantResponse)
def renew():
    keep = channel.stream_stream("/etcdserverpb.Lease/LeaseKeepAlive",
                                 request_serializer=rpc_pb2.LeaseKeepAliveRequest.SerializeToString,
                                 response_deserializer=rpc_pb2.LeaseKeepAliveResponse.FromString)
    def every_half_second():
        while True:
            yield rpc_pb2.LeaseKeepAliveRequest(ID=lease_id)
            time.sleep(0.5)
    for _ in keep(every_half_second()):
        pass
threading.Thread(target=renew, daemon=True).start()
held = unary("/v3lockpb.Lock/Lock", v3lock_pb2.LockRequest(name=b"P", lease=lease_id),
             v3lock_pb2.LockResponse)
print(held.key.decode(), flush=True)
time.sleep(600)
"""
"""A lock holder as its own process: its lease (2 s) renewed every half second while it lives."""


def test_a_holder_process_that_dies_hands_the_lock_over(pair: GrpcPair, processes: Processes) -> None:
    """kill -9 of the process holding the lock: its lease runs out and the waiter gets the lock."""
    holders = [processes.popen([sys.executable, "-c", HOLDER, server.url.removeprefix("http://"), "1700"],
                               stdout=subprocess.PIPE, cwd=ROOT) for server in (pair.etcd, pair.ours)]
    for holder in holders:
        assert holder.stdout is not None and holder.stdout.readline() == b"P/6a4\n"
    _grant(pair, 1800)
    with _waiting(pair, LOCK, v3lock_pb2.LockRequest(name=b"P", lease=1800), b"P/", 2) as answers:
        for holder in holders:
            holder.kill()
        assert _same(LOCK, *answers).body["key"] == "UC83MDg="  # P/708
    _keys(pair, b"P/")


# -- Election -------------------------------------------------------------------------------
def _campaign(name: bytes, lease: int, value: bytes) -> v3election_pb2.CampaignRequest:
    return v3election_pb2.CampaignRequest(name=name, lease=lease, value=value)


def _leader_key(name: bytes, lease: int, revision: int) -> v3election_pb2.LeaderKey:
    return v3election_pb2.LeaderKey(name=name, key=name + b"/" + b"%x" % lease, lease=lease, rev=revision)


def test_campaign_proclaim_leader_and_resign(pair: GrpcPair) -> None:
    _grant(pair, 2000)
    pair.same(ELECTION + "Leader", v3election_pb2.LeaderRequest(name=b"E"))
    won = pair.same(ELECTION + "Campaign", _campaign(b"E", 2000, b"first"))
    revision = int(won.body["leader"]["rev"])
    leader = _leader_key(b"E", 2000, revision)
    pair.same(ELECTION + "Leader", v3election_pb2.LeaderRequest(name=b"E"))
    pair.same(ELECTION + "Proclaim", v3election_pb2.ProclaimRequest(leader=leader, value=b"second"))
    pair.same(ELECTION + "Proclaim", v3election_pb2.ProclaimRequest(
        leader=_leader_key(b"E", 2000, revision + 100), value=b"third"))
    pair.same(ELECTION + "Proclaim", v3election_pb2.ProclaimRequest(value=b"x"))
    pair.same(ELECTION + "Leader", v3election_pb2.LeaderRequest(name=b"E"))
    pair.same(ELECTION + "Campaign", _campaign(b"E", 2000, b"again"))
    pair.same(ELECTION + "Resign", v3election_pb2.ResignRequest(leader=leader))
    pair.same(ELECTION + "Resign", v3election_pb2.ResignRequest(leader=leader))
    pair.same(ELECTION + "Resign", v3election_pb2.ResignRequest())
    pair.same(ELECTION + "Leader", v3election_pb2.LeaderRequest(name=b"E"))
    pair.same(ELECTION + "Campaign", _campaign(b"E", 999, b"v"))


def test_observe_follows_proclamations_and_a_leader_whose_lease_expires(pair: GrpcPair) -> None:
    """The leader's process died: its lease expires and the candidate waiting becomes leader; an
    observer sees each leader and value, on both servers alike."""
    _grant(pair, 3000, ttl_s=2)
    _grant(pair, 3100)
    won = pair.same(ELECTION + "Campaign", _campaign(b"O", 3000, b"one"))
    leader = _leader_key(b"O", 3000, int(won.body["leader"]["rev"]))
    observers = [Stream(pair.etcd, ELECTION + "Observe"), Stream(pair.ours, ELECTION + "Observe")]
    try:
        for observer in observers:
            observer.send(v3election_pb2.LeaderRequest(name=b"O"))
            assert len(observer.read(1)) == 1
        pair.same_stream(KEEPALIVE, [rpc_pb2.LeaseKeepAliveRequest(ID=3000)])  # 2 s from now
        pair.same(ELECTION + "Proclaim", v3election_pb2.ProclaimRequest(leader=leader, value=b"two"))
        with _waiting(pair, ELECTION + "Campaign", _campaign(b"O", 3100, b"next"), b"O/", 2,
                      renewing=3000) as answers:
            _same(ELECTION + "Campaign", *answers)
        theirs, ours = (Answer(grpc.StatusCode.OK, "", tuple(observer.read(2))) for observer in observers)
        assert_same(ELECTION + "Observe", "", theirs, ours)
        assert [m["kv"]["value"] for m in ours.messages] == ["dHdv", "bmV4dA=="]  # two, next
    finally:
        for observer in observers:
            observer.cancel()
