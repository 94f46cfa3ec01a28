"""Open watches when the auth state moves under them: confagent against a real etcd 3.4 (gRPC, gateway).

A watch is opened as a user on each server, then root revokes the permission
it was made under, deletes its user, or disables auth, and puts a key in its
range. etcd 3.4 checks a watch only when it is created and goes on delivering;
confagent cancels a watch whose user may no longer read its range once the
change applies (no event needed), with etcd's permission-denied cancel reason
(README, "Known differences"), and delivers as etcd does while the user still
may (another role's grant, auth disabled). The tests run in file order: the
last ones run with auth disabled.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from confagent.testing import Processes
from confagent.wire._pb import auth_pb2
from confagent.wire._pb import rpc_pb2 as Req  # noqa: N812
from tests.e2e.grpc_differential import GrpcPair, Server, Stream, Who, normalize, pair_fixture, sign_in

Json = Any
AUTH = "/etcdserverpb.Auth/"
PUT = "/etcdserverpb.KV/Put"
WATCH = "/etcdserverpb.Watch/Watch"
READ, READWRITE = 0, 2
CANCELED = {"canceled": True,
            "cancel_reason": "rpc error: code = PermissionDenied desc = etcdserver: permission denied"}
NOBODY = Who("nobody")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
         etcd_binary: str) -> Iterator[GrpcPair]:
    yield from pair_fixture(tmp_path_factory, session_processes)


def _grant(pair: GrpcPair, root: Who, role: str, key: bytes, range_end: bytes) -> None:
    perm = auth_pb2.Permission(permType=READ, key=key, range_end=range_end)
    pair.same_as(root, AUTH + "RoleGrantPermission", Req.AuthRoleGrantPermissionRequest(name=role, perm=perm))


@pytest.fixture(scope="module")
def root(pair: GrpcPair) -> Who:
    """Auth enabled on both: root, users alice and bob holding role app (read on /app/), alice also
    role keep (read on /keep/); root signed in."""
    pair.same(AUTH + "UserAdd", Req.AuthUserAddRequest(name="root", password="root-pw"))
    pair.same(AUTH + "UserGrantRole", Req.AuthUserGrantRoleRequest(user="root", role="root"))
    pair.same(AUTH + "AuthEnable", Req.AuthEnableRequest())
    root = sign_in(pair, "root", "root-pw")
    for name in ("alice", "bob"):
        pair.same_as(root, AUTH + "UserAdd", Req.AuthUserAddRequest(name=name, password=name + "-pw"))
    for role in ("app", "keep"):
        pair.same_as(root, AUTH + "RoleAdd", Req.AuthRoleAddRequest(name=role))
    for user, role in (("alice", "app"), ("bob", "app"), ("alice", "keep")):
        pair.same_as(root, AUTH + "UserGrantRole", Req.AuthUserGrantRoleRequest(user=user, role=role))
    return root


def _open(server: Server, metadata: Any, key: bytes, range_end: bytes) -> Stream:
    stream = Stream(server, WATCH, metadata=metadata)
    stream.send(Req.WatchRequest(create_request=Req.WatchCreateRequest(key=key, range_end=range_end)))
    created = stream.read(1)
    assert created and created[0].get("created") and not created[0].get("canceled"), created
    return stream


class Watches:
    """The same watch open as ``who`` on each server."""

    def __init__(self, pair: GrpcPair, who: Who, key: bytes, range_end: bytes) -> None:
        self.etcd = _open(pair.etcd, who.etcd, key, range_end)
        self.ours = _open(pair.ours, who.ours, key, range_end)

    def next(self) -> tuple[Json, Json]:
        """Each stream's next message (bounded waits)."""
        theirs, ours = self.etcd.read(1), self.ours.read(1)
        assert theirs and ours, (theirs, ours)
        return normalize(theirs[0]), normalize(ours[0])

    def close(self) -> None:
        self.etcd.cancel()
        self.ours.cancel()


def _put(pair: GrpcPair, root: Who, key: bytes) -> None:
    pair.same_as(root, PUT, Req.PutRequest(key=key, value=b"v"))


def _delivered(message: Json, key: bytes) -> bool:
    return [event["kv"]["key"] for event in message.get("events", [])] == [base64.b64encode(key).decode()]


def test_a_revoked_permission_cancels_open_watches_where_etcd_goes_on(pair: GrpcPair, root: Who) -> None:
    _grant(pair, root, "app", b"/app/", b"/app0")
    _grant(pair, root, "keep", b"/keep/", b"/keep0")
    alice = sign_in(pair, "alice", "alice-pw")
    app, keep = Watches(pair, alice, b"/app/", b"/app0"), Watches(pair, alice, b"/keep/", b"/keep0")
    try:
        _put(pair, root, b"/app/1")
        theirs, ours = app.next()
        assert ours == theirs
        pair.same_as(root, AUTH + "RoleRevokePermission",
                     Req.AuthRoleRevokePermissionRequest(role="app", key=b"/app/", range_end=b"/app0"))
        _put(pair, root, b"/app/2")
        _put(pair, root, b"/keep/1")
        theirs, ours = app.next()
        assert _delivered(theirs, b"/app/2"), theirs  # etcd 3.4: checked at create only
        assert {key: value for key, value in ours.items() if key != "header"} == CANCELED
        theirs, ours = keep.next()  # still granted by role keep: delivered on both
        assert ours == theirs and _delivered(ours, b"/keep/1")
    finally:
        app.close()
        keep.close()


def test_a_deleted_user_s_open_watches_are_canceled_where_etcd_goes_on(pair: GrpcPair, root: Who) -> None:
    _grant(pair, root, "app", b"/app/", b"/app0")
    bob = sign_in(pair, "bob", "bob-pw")
    app = Watches(pair, bob, b"/app/", b"/app0")
    try:
        pair.same_as(root, AUTH + "UserDelete", Req.AuthUserDeleteRequest(name="bob"))
        canceled = app.ours.read(1)  # at once, with no event in its range
        assert [{key: value for key, value in m.items() if key != "header"} for m in canceled] == [CANCELED]
        _put(pair, root, b"/app/3")
        delivered = app.etcd.read(1)
        assert delivered and _delivered(delivered[0], b"/app/3"), delivered
    finally:
        app.close()


class GatewayWatch:
    """A watch open through the JSON gateway (``/v3/watch``), its lines read one at a time."""

    def __init__(self, url: str, token: str, key: bytes, range_end: bytes) -> None:
        body = {"create_request": {"key": base64.b64encode(key).decode(),
                                   "range_end": base64.b64encode(range_end).decode()}}
        self._client = httpx.Client(timeout=10.0)
        self._call = self._client.stream("POST", url + "/v3/watch", json=body,
                                         headers={"Authorization": token})
        self._lines = self._call.__enter__().iter_lines()

    def next(self) -> Json:
        return normalize(json.loads(next(self._lines)))

    def close(self) -> None:
        self._call.__exit__(None, None, None)
        self._client.close()


def test_a_revoked_permission_cancels_a_gateway_watch_where_etcd_goes_on(pair: GrpcPair, root: Who) -> None:
    _grant(pair, root, "keep", b"/keep/", b"/keep0")
    alice = sign_in(pair, "alice", "alice-pw")
    theirs = GatewayWatch(pair.etcd.url, alice.etcd[0][1], b"/keep/", b"/keep0")
    ours = GatewayWatch(pair.ours.url, alice.ours[0][1], b"/keep/", b"/keep0")
    try:
        assert ours.next() == theirs.next()  # created
        pair.same_as(root, AUTH + "RoleRevokePermission",
                     Req.AuthRoleRevokePermissionRequest(role="keep", key=b"/keep/", range_end=b"/keep0"))
        _put(pair, root, b"/keep/2")
        delivered, canceled = theirs.next()["result"], ours.next()["result"]
        assert _delivered(delivered, b"/keep/2"), delivered
        assert {key: value for key, value in canceled.items() if key != "header"} == CANCELED
    finally:
        theirs.close()
        ours.close()


def test_open_watches_go_on_when_auth_is_disabled(pair: GrpcPair, root: Who) -> None:
    _grant(pair, root, "app", b"/app/", b"/app0")
    alice = sign_in(pair, "alice", "alice-pw")
    app = Watches(pair, alice, b"/app/", b"/app0")
    try:
        pair.same_as(root, AUTH + "AuthDisable", Req.AuthDisableRequest())
        pair.same(PUT, Req.PutRequest(key=b"/app/4", value=b"v"))
        theirs, ours = app.next()
        assert ours == theirs and _delivered(ours, b"/app/4")
    finally:
        app.close()


def test_a_watch_made_with_a_token_of_before_auth_was_disabled_is_refused(pair: GrpcPair, root: Who) -> None:
    """Runs after auth is disabled: a token is read first, as etcd reads it (none is good then)."""
    stale = Who("stale", (("token", "bad"),), (("token", "bad"),))
    first = []
    for server, metadata in ((pair.etcd, stale.etcd), (pair.ours, stale.ours)):
        stream = Stream(server, WATCH, metadata=metadata)
        stream.send(Req.WatchRequest(create_request=Req.WatchCreateRequest(key=b"/app/", range_end=b"/app0")))
        first.append(normalize(stream.read(1)))
        stream.cancel()
    assert first[1] == first[0]
    reason = "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
    assert first[0][0]["cancel_reason"] == reason
