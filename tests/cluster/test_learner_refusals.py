"""A learner refuses what etcd 3.4's learner refuses: the same requests to a real etcd learner and to a
confagent learner (each beside its one voter), answers compared; promoted, both serve writes again."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from confagent.testing import Processes, ServerProcess, b64, confagent_argv, free_port, post, until
from confagent.wire._pb import health_pb2, rpc_pb2, v3election_pb2, v3lock_pb2
from tests.e2e.differential import Answer, normalize
from tests.e2e.grpc_differential import GrpcPair, assert_same

LEASE_ID = "7000"
"""Granted on each voter before the learner joins, so both learners get the same lease bodies."""

K1 = b64("k1")
REQUESTS: list[tuple[str, dict[str, Any] | bytes]] = [  # a dict is sent as JSON, bytes as they are
    ("/v3/kv/put", {"key": b64("x"), "value": b64("y")}),
    ("/v3/kv/put", {}),  # refused before the missing key is noticed
    ("/v3/kv/put", b"{bad"),  # the gateway's decoding error comes first
    ("/v3beta/kv/put", {"key": b64("x")}),
    ("/v3/kv/range", {"key": K1}),
    ("/v3/kv/range", {"key": K1, "serializable": False}),
    ("/v3/kv/range", {"key": K1, "serializable": True}),
    ("/v3/kv/range", {"key": K1, "serializable": True, "revision": "999"}),
    ("/v3/kv/range", {"serializable": True}),
    ("/v3/kv/range", {}),
    ("/v3/kv/range", {"key": 5}),
    ("/v3/kv/deleterange", {"key": K1}),
    ("/v3/kv/txn", {"success": [{"request_range": {"key": K1}}]}),
    ("/v3/kv/txn", {"success": [{"request_range": {"key": K1, "serializable": True}}]}),
    ("/v3/kv/txn", {"success": [{"request_put": {"key": K1}}]}),
    ("/v3/kv/txn", {"success": [{}]}),
    ("/v3/kv/compaction", {"revision": "2"}),
    ("/v3/kv/compaction", {"revision": "x"}),
    ("/v3/lease/grant", {"TTL": "30"}),
    ("/v3/lease/revoke", {"ID": LEASE_ID}),
    ("/v3/kv/lease/revoke", {"ID": LEASE_ID}),
    ("/v3/lease/timetolive", {"ID": LEASE_ID}),
    ("/v3/lease/leases", {}),
    ("/v3/lease/keepalive", {"ID": LEASE_ID}),
    ("/v3/lease/keepalive", b""),
    ("/v3/lease/keepalive", b"{bad"),
    ("/v3/watch", {"create_request": {"key": K1}}),
    ("/v3/watch", b""),
    ("/v3/watch", b"{bad"),
    ("/v3/maintenance/alarm", {"action": "GET"}),
    ("/v3/maintenance/snapshot", {}),
    ("/v3/maintenance/snapshot", b"{bad"),
    ("/v3/cluster/member/list", {}),
    ("/v3/cluster/member/add", {"peerURLs": ["http://127.0.0.1:1"], "isLearner": True}),
    ("/v3/cluster/member/update", {"ID": "123", "peerURLs": ["http://127.0.0.1:1"]}),
    ("/v3/cluster/member/remove", {"ID": "123"}),
    ("/v3/lock/lock", {"name": b64("L"), "lease": LEASE_ID}),
    ("/v3/lock/lock", {"name": "not base64!"}),
    ("/v3/lock/unlock", {"key": b64("L/1b58")}),
    ("/v3/election/campaign", {"name": b64("E"), "lease": LEASE_ID, "value": b64("v")}),
    ("/v3/election/leader", {"name": b64("E")}),
    ("/v3/election/proclaim", {"leader": "E"}),
    ("/v3/election/resign", {}),
    ("/v3/election/observe", {"name": b64("E")}),
    ("/v3/election/observe", b"{bad"),
    ("/v3/maintenance/defragment", {}),
    ("/v3/maintenance/transfer-leadership", {"targetID": "5"}),
    ("/v3/maintenance/transfer-leadership", {"targetID": "x"}),
]


GRPC_UNARY: list[tuple[str, Any]] = [  # a message, or bytes sent as they are
    ("/etcdserverpb.KV/Range", rpc_pb2.RangeRequest(key=b"k1")),
    ("/etcdserverpb.KV/Range", rpc_pb2.RangeRequest(key=b"k1", serializable=True)),
    ("/etcdserverpb.KV/Range", rpc_pb2.RangeRequest(key=b"k", range_end=b"l", serializable=True,
                                                    revision=999)),
    ("/etcdserverpb.KV/Put", rpc_pb2.PutRequest(key=b"x", value=b"y")),
    ("/etcdserverpb.KV/DeleteRange", rpc_pb2.DeleteRangeRequest(key=b"k1")),
    ("/etcdserverpb.KV/Txn", rpc_pb2.TxnRequest()),
    ("/etcdserverpb.KV/Compact", rpc_pb2.CompactionRequest(revision=2)),
    ("/etcdserverpb.Lease/LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=30)),
    ("/etcdserverpb.Lease/LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=int(LEASE_ID))),
    ("/etcdserverpb.Lease/LeaseTimeToLive", rpc_pb2.LeaseTimeToLiveRequest(ID=int(LEASE_ID))),
    ("/etcdserverpb.Lease/LeaseLeases", rpc_pb2.LeaseLeasesRequest()),
    ("/etcdserverpb.Cluster/MemberList", rpc_pb2.MemberListRequest()),
    ("/etcdserverpb.Cluster/MemberAdd", rpc_pb2.MemberAddRequest(peerURLs=["http://127.0.0.1:1"])),
    ("/etcdserverpb.Cluster/MemberPromote", rpc_pb2.MemberPromoteRequest(ID=123)),
    ("/etcdserverpb.Maintenance/Alarm", rpc_pb2.AlarmRequest()),
    ("/etcdserverpb.Maintenance/Defragment", rpc_pb2.DefragmentRequest()),
    ("/etcdserverpb.Maintenance/Hash", rpc_pb2.HashRequest()),
    ("/etcdserverpb.Maintenance/HashKV", rpc_pb2.HashKVRequest()),
    ("/etcdserverpb.Maintenance/MoveLeader", rpc_pb2.MoveLeaderRequest(targetID=5)),
    ("/etcdserverpb.Auth/UserList", rpc_pb2.AuthUserListRequest()),
    ("/v3lockpb.Lock/Lock", v3lock_pb2.LockRequest(name=b"L", lease=int(LEASE_ID))),
    ("/v3electionpb.Election/Leader", v3election_pb2.LeaderRequest(name=b"E")),
    ("/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest()),
]
GRPC_STREAMS: list[tuple[str, Any]] = [
    ("/etcdserverpb.Watch/Watch", rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k1"))),
    ("/etcdserverpb.Lease/LeaseKeepAlive", rpc_pb2.LeaseKeepAliveRequest(ID=int(LEASE_ID))),
    ("/etcdserverpb.Maintenance/Snapshot", rpc_pb2.SnapshotRequest()),
    ("/v3electionpb.Election/Observe", v3election_pb2.LeaderRequest(name=b"E")),
    ("/grpc.health.v1.Health/Watch", health_pb2.HealthCheckRequest()),
]


@dataclass
class LearnerPair:
    """A voter and a learner of one cluster; ``learner_id`` as the member add answered it."""

    voter: ServerProcess
    learner: ServerProcess
    learner_id: str


def _add_learner(kind: str, voter: ServerProcess, base_dir: Path) -> tuple[str, ServerProcess]:
    """``member add --learner`` at the voter, then the learner's process (not started), joining."""
    peer, client = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    added = post(voter.url, "/v3/cluster/member/add", {"peerURLs": [peer], "isLearner": True}).json()
    initial = ",".join(f"{m.get('name', 'learner')}={m['peerURLs'][0]}" for m in added["members"])
    binary = [shutil.which("etcd") or "/usr/bin/etcd"] if kind == "etcd" else confagent_argv("store")
    argv = [*binary, "--name", "learner", "--data-dir", str(base_dir / "learner"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", initial, "--initial-cluster-state", "existing", "--log-level", "error"]
    process = ServerProcess(kind, client, base_dir / "learner", argv, base_dir / "learner.log",
                            extra_env={"PYTHONUNBUFFERED": "1"})
    return str(added["member"]["ID"]), process


def _start_pair(processes: Processes, kind: str, base_dir: Path) -> LearnerPair:
    """A voter with some keys and a lease, and a learner that has caught up with it."""
    voter = (processes.etcd if kind == "etcd" else processes.store)(base_dir / "voter")
    for i in range(3):
        assert post(voter.url, "/v3/kv/put", {"key": b64(f"k{i}"), "value": b64(str(i))}).status_code == 200
    assert post(voter.url, "/v3/lease/grant", {"TTL": 600, "ID": LEASE_ID}).status_code == 200
    learner_id, learner = _add_learner(kind, voter, base_dir)
    not_ready = post(voter.url, "/v3/cluster/member/promote", {"ID": learner_id})
    assert (not_ready.status_code, not_ready.json()["code"]) == (412, 9), not_ready.text  # never started
    processes.server(learner).start()
    until(lambda: _caught_up(learner), f"the {kind} learner to catch up", pause_s=0.1)
    return LearnerPair(voter, learner, learner_id)


def _caught_up(learner: ServerProcess) -> bool:
    """Whether the learner holds the voter's last key and knows it is a learner."""
    last = post(learner.url, "/v3/kv/range", {"key": b64("k2"), "serializable": True}).json()
    return last.get("count") == "1" and _status_shape(learner.url)[2] is True


@pytest.fixture
def pairs(tmp_path: Path, etcd_processes: Processes) -> tuple[LearnerPair, LearnerPair]:
    """(etcd's, confagent's) voter and caught-up learner, started side by side."""
    with ThreadPoolExecutor(2) as pool:
        theirs = pool.submit(_start_pair, etcd_processes, "etcd", tmp_path / "etcd")
        ours = pool.submit(_start_pair, etcd_processes, "confagent", tmp_path / "ours")
    return theirs.result(), ours.result()


def _answer(url: str, path: str, body: dict[str, Any] | bytes = b"",
            method: str = "POST") -> tuple[int, str, Any]:
    """Status, content type and body of an answer: an error's exact bytes, a success's JSON
    without what two members legitimately disagree on."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = httpx.request(method, url + path, content=content, timeout=10)
    kept = normalize(Answer.of(response).body) if response.status_code == 200 else response.content
    return response.status_code, response.headers.get("content-type", ""), kept


def _status_shape(url: str) -> tuple[int, list[str], Any]:
    """A status reply's fields and whether it says learner (sizes, indexes and IDs differ)."""
    response = post(url, "/v3/maintenance/status", {})
    reply = response.json()
    return response.status_code, sorted(reply), reply.get("isLearner")


def _grpc_refusals(theirs: LearnerPair, ours: LearnerPair) -> None:
    """The same through gRPC: etcd's interceptors refuse all but Status and a serializable Range."""
    learners = GrpcPair(theirs.learner.url, ours.learner.url)
    try:
        for path, request in GRPC_UNARY:
            learners.same(path, request)
        malformed = learners.both("/etcdserverpb.KV/Put", b"\x0a\xff")  # its decoding error comes first
        assert [(a.code.name, a.details.split(": ")[:2]) for a in malformed] == 2 * [
            ("INTERNAL", ["grpc", "error unmarshalling request"])]
        status = learners.same("/etcdserverpb.Maintenance/Status", rpc_pb2.StatusRequest(), mask=(
            "version", "dbSize", "leader", "raftIndex", "raftTerm", "dbSizeInUse", "raftAppliedIndex"))
        assert status.body["isLearner"]
        for path, request in GRPC_STREAMS:
            answers = [learner.stream(path, [request], count=1) for learner in (learners.etcd, learners.ours)]
            assert_same(path, request, *answers)
            assert answers[0].details == "etcdserver: rpc not supported for learner"
    finally:
        learners.close()


def _promote(pair: LearnerPair) -> None:
    """Promote the learner through its voter once it is in sync, and wait until it knows."""
    body = {"ID": pair.learner_id}
    until(lambda: post(pair.voter.url, "/v3/cluster/member/promote", body).status_code == 200,
          "the learner to be in sync", pause_s=0.1)
    until(lambda: "isLearner" not in post(pair.learner.url, "/v3/maintenance/status", {}).json(),
          "the promoted member to know it", pause_s=0.1)


def test_a_learner_answers_as_an_etcd_learner_does_until_it_is_promoted(
        pairs: tuple[LearnerPair, LearnerPair]) -> None:
    theirs, ours = pairs
    for path, body in REQUESTS:
        expected = _answer(theirs.learner.url, path, body)
        assert _answer(ours.learner.url, path, body) == expected, (path, body)
    for plain in ("/health", "/version"):
        assert _answer(ours.learner.url, plain, method="GET") == _answer(
            theirs.learner.url, plain, method="GET")
    assert _status_shape(ours.learner.url) == _status_shape(theirs.learner.url)
    assert _status_shape(ours.learner.url)[2] is True
    _grpc_refusals(theirs, ours)
    promote_itself = [_answer(p.learner.url, "/v3/cluster/member/promote", {"ID": p.learner_id})
                      for p in (theirs, ours)]
    assert promote_itself[1] == promote_itself[0]
    assert promote_itself[0][0] == 503
    for pair in pairs:
        _promote(pair)
    put = {"key": b64("after"), "value": b64("promoted")}
    assert _answer(ours.learner.url, "/v3/kv/put", put) == _answer(theirs.learner.url, "/v3/kv/put", put)
    ranged = {"key": b64("after")}
    expected = _answer(theirs.learner.url, "/v3/kv/range", ranged)
    assert expected[0] == 200 and expected[2]["count"] == "1"
    assert _answer(ours.learner.url, "/v3/kv/range", ranged) == expected
