"""confagent against a real etcd 3.4 through gRPC and the gateway with auth enabled: every answer compared.

One etcd and one store serve the module (auth state is theirs alone). The
module's fixture enables auth on both as etcdctl users do (each refusal on the
way compared) and signs in root and alice on each; a call is then made as each
of: root, alice (read-write on ``/app/``, write-only on ``/wo/``), nobody (no
token), a bad ``token`` and a bad ``authorization`` metadata. Tokens differ by
nature and are masked; everything else (codes, messages, bodies, headers but
their ids) is compared. Where the core documents a difference from etcd 3.4.23
(README, "Known differences"), the test asserts the difference.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from confagent.testing import Processes
from confagent.wire._pb import auth_pb2
from confagent.wire._pb import rpc_pb2 as Req  # noqa: N812
from tests.e2e.grpc_differential import (
    Answer,
    GrpcPair,
    Metadata,
    Server,
    Stream,
    Who,
    assert_same,
    normalize,
    pair_fixture,
    sign_in,
)

Json = Any
AUTH = "/etcdserverpb.Auth/"
KV = "/etcdserverpb.KV/"
LEASE = "/etcdserverpb.Lease/"
MAINTENANCE = "/etcdserverpb.Maintenance/"
CLUSTER = "/etcdserverpb.Cluster/"
WATCH = "/etcdserverpb.Watch/Watch"
READ, WRITE, READWRITE = 0, 1, 2
PASSWORDS = {"root": "root-pw", "alice": "alice-pw", "bob": "bob-pw"}


@dataclass
class Signed:
    pair: GrpcPair
    root: Who
    alice: Who

    def callers(self) -> list[Who]:
        """Everyone but root (the refused first), then root."""
        return [Who("nobody"), Who("bad token", (("token", "bad"),), (("token", "bad"),)),
                Who("bad authorization", (("authorization", "bad"),), (("authorization", "bad"),)),
                self.alice, self.root]

    def same(self, path: str, request: Any, who: Who, *, mask: tuple[str, ...] = ()) -> Answer:
        """The call as ``who`` on both servers; equal answers asserted; etcd's returned."""
        theirs = self.pair.etcd.unary(path, request, metadata=who.etcd)
        ours = self.pair.ours.unary(path, request, metadata=who.ours)
        assert_same(f"{path} as {who.name}", request, theirs, ours, mask)
        return theirs

    def each(self, path: str, request: Any, *, mask: tuple[str, ...] = ()) -> None:
        for who in self.callers():
            self.same(path, request, who, mask=mask)


def _sign_in(pair: GrpcPair, name: str) -> Who:
    return sign_in(pair, name, PASSWORDS[name])


def _perm(kind: int, key: bytes, range_end: bytes = b"") -> auth_pb2.Permission:
    return auth_pb2.Permission(permType=kind, key=key, range_end=range_end)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes,
         etcd_binary: str) -> Iterator[GrpcPair]:
    yield from pair_fixture(tmp_path_factory, session_processes)


@pytest.fixture(scope="module")
def signed(pair: GrpcPair) -> Signed:
    """Users, roles and keys as the module's tests want them, auth enabled, root and alice signed in;
    each step's answer compared."""
    same = pair.same
    for key in (b"/app/a", b"/other/a", b"/wo/a", b"/ro/a"):
        same(KV + "Put", Req.PutRequest(key=key, value=b"v0"))
    same(AUTH + "AuthEnable", Req.AuthEnableRequest())  # RootUserNotExist
    same(AUTH + "UserAdd", Req.AuthUserAddRequest(name="root", password=PASSWORDS["root"]))
    same(AUTH + "AuthEnable", Req.AuthEnableRequest())  # RootRoleNotExist
    same(AUTH + "Authenticate", Req.AuthenticateRequest(name="root", password="root-pw"))  # not enabled
    same(AUTH + "UserGrantRole", Req.AuthUserGrantRoleRequest(user="root", role="root"))
    for name in ("alice", "bob"):
        same(AUTH + "UserAdd", Req.AuthUserAddRequest(name=name, password=PASSWORDS[name]))
    no_password = auth_pb2.UserAddOptions(no_password=True)
    same(AUTH + "UserAdd", Req.AuthUserAddRequest(name="carol", options=no_password))
    roles = (("app", _perm(READWRITE, b"/app/", b"/app0")), ("wo", _perm(WRITE, b"/wo/", b"/wo0")),
             ("ro", _perm(READ, b"/ro/", b"/ro0")))
    for role, perm in roles:
        same(AUTH + "RoleAdd", Req.AuthRoleAddRequest(name=role))
        same(AUTH + "RoleGrantPermission", Req.AuthRoleGrantPermissionRequest(name=role, perm=perm))
    for user, role in (("alice", "app"), ("alice", "wo"), ("carol", "app"), ("bob", "ro")):
        same(AUTH + "UserGrantRole", Req.AuthUserGrantRoleRequest(user=user, role=role))
    same(AUTH + "AuthEnable", Req.AuthEnableRequest())
    return Signed(pair, _sign_in(pair, "root"), _sign_in(pair, "alice"))


# -- the Auth service ----------------------------------------------------------------------
def test_authenticate_refusals(signed: Signed) -> None:
    for name, password in (("root", "wrong"), ("nobody", "pw"), ("", ""), ("", "pw"), ("carol", ""),
                           ("carol", "pw"), ("bob", "")):
        signed.same(AUTH + "Authenticate", Req.AuthenticateRequest(name=name, password=password),
                    Who("nobody"))
    for who in signed.callers():  # Authenticate asks nobody who calls, but a token it carries must be good
        signed.same(AUTH + "Authenticate", Req.AuthenticateRequest(name="bob", password="bob-pw"), who,
                    mask=("token",))


_READS = [
    ("UserGet", Req.AuthUserGetRequest(name="alice")),
    ("UserGet", Req.AuthUserGetRequest(name="root")),
    ("UserGet", Req.AuthUserGetRequest(name="nobody")),
    ("UserGet", Req.AuthUserGetRequest(name="")),
    ("UserList", Req.AuthUserListRequest()),
    ("RoleGet", Req.AuthRoleGetRequest(role="app")),
    ("RoleGet", Req.AuthRoleGetRequest(role="ro")),
    ("RoleGet", Req.AuthRoleGetRequest(role="root")),
    ("RoleGet", Req.AuthRoleGetRequest(role="none")),
    ("RoleGet", Req.AuthRoleGetRequest(role="")),
    ("RoleList", Req.AuthRoleListRequest()),
    ("AuthEnable", Req.AuthEnableRequest()),
]


@pytest.mark.parametrize(("method", "request_"), _READS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(_READS)])
def test_auth_reads_as_each_caller(signed: Signed, method: str, request_: Any) -> None:
    signed.each(AUTH + method, request_)


_CHANGES: list[tuple[str, Any, tuple[str, Any] | None]] = [
    ("UserAdd", Req.AuthUserAddRequest(name="dave", password="pw"),
     ("UserDelete", Req.AuthUserDeleteRequest(name="dave"))),
    ("UserAdd", Req.AuthUserAddRequest(name="erin", options=auth_pb2.UserAddOptions(no_password=True)),
     ("UserDelete", Req.AuthUserDeleteRequest(name="erin"))),
    ("UserAdd", Req.AuthUserAddRequest(name="", password="pw"), None),
    ("UserAdd", Req.AuthUserAddRequest(name="alice", password="pw"), None),
    ("UserDelete", Req.AuthUserDeleteRequest(name="nobody"), None),
    ("UserDelete", Req.AuthUserDeleteRequest(name="root"), None),
    ("UserChangePassword", Req.AuthUserChangePasswordRequest(name="bob", password="bob-pw"), None),
    ("UserChangePassword", Req.AuthUserChangePasswordRequest(name="nobody", password="pw"), None),
    ("UserGrantRole", Req.AuthUserGrantRoleRequest(user="bob", role="app"),
     ("UserRevokeRole", Req.AuthUserRevokeRoleRequest(name="bob", role="app"))),
    ("UserGrantRole", Req.AuthUserGrantRoleRequest(user="bob", role="norole"), None),
    ("UserGrantRole", Req.AuthUserGrantRoleRequest(user="nobody", role="app"), None),
    ("UserGrantRole", Req.AuthUserGrantRoleRequest(user="bob", role="ro"), None),
    ("UserRevokeRole", Req.AuthUserRevokeRoleRequest(name="bob", role="app"), None),
    ("UserRevokeRole", Req.AuthUserRevokeRoleRequest(name="root", role="root"), None),
    ("UserRevokeRole", Req.AuthUserRevokeRoleRequest(name="nobody", role="app"), None),
    ("RoleAdd", Req.AuthRoleAddRequest(name="r2"), ("RoleDelete", Req.AuthRoleDeleteRequest(role="r2"))),
    ("RoleAdd", Req.AuthRoleAddRequest(name=""), None),
    ("RoleAdd", Req.AuthRoleAddRequest(name="app"), None),
    ("RoleDelete", Req.AuthRoleDeleteRequest(role="root"), None),
    ("RoleDelete", Req.AuthRoleDeleteRequest(role="none"), None),
    ("RoleGrantPermission", Req.AuthRoleGrantPermissionRequest(name="ro", perm=_perm(READ, b"/x")),
     ("RoleRevokePermission", Req.AuthRoleRevokePermissionRequest(role="ro", key=b"/x"))),
    ("RoleGrantPermission", Req.AuthRoleGrantPermissionRequest(name="none", perm=_perm(READ, b"/x")), None),
    ("RoleRevokePermission", Req.AuthRoleRevokePermissionRequest(role="ro", key=b"/never"), None),
    ("RoleRevokePermission", Req.AuthRoleRevokePermissionRequest(role="none", key=b"/x"), None),
]


@pytest.mark.parametrize(("method", "request_", "undo"), _CHANGES,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(_CHANGES)])
def test_auth_changes_as_each_caller(signed: Signed, method: str, request_: Any,
                                     undo: tuple[str, Any] | None) -> None:
    signed.each(AUTH + method, request_)  # refused but for root, who makes it
    if undo is not None:
        signed.same(AUTH + undo[0], undo[1], signed.root)


# -- KV --------------------------------------------------------------------------------------
_KV_CALLS: list[tuple[str, Any]] = [
    ("Range", Req.RangeRequest(key=b"/app/a")),
    ("Range", Req.RangeRequest(key=b"/app/", range_end=b"/app0")),
    ("Range", Req.RangeRequest(key=b"/other/a")),
    ("Range", Req.RangeRequest(key=b"/wo/a")),
    ("Range", Req.RangeRequest(key=b"/ro/a", count_only=True)),
    ("Range", Req.RangeRequest(key=b"\0", range_end=b"\0")),
    ("Put", Req.PutRequest(key=b"/app/p", value=b"1", prev_kv=True)),
    ("Put", Req.PutRequest(key=b"/wo/p", value=b"1")),
    ("Put", Req.PutRequest(key=b"/wo/p", value=b"2", prev_kv=True)),
    ("Put", Req.PutRequest(key=b"/other/p", value=b"1")),
    ("Put", Req.PutRequest(key=b"/ro/p", value=b"1")),
    ("DeleteRange", Req.DeleteRangeRequest(key=b"/app/p", prev_kv=True)),
    ("DeleteRange", Req.DeleteRangeRequest(key=b"/wo/p", prev_kv=True)),
    ("DeleteRange", Req.DeleteRangeRequest(key=b"/wo/p")),
    ("DeleteRange", Req.DeleteRangeRequest(key=b"/app/", range_end=b"/app0")),
    ("DeleteRange", Req.DeleteRangeRequest(key=b"/other/p")),
    ("Compact", Req.CompactionRequest(revision=2)),
]


@pytest.mark.parametrize(("method", "request_"), _KV_CALLS,
                         ids=[f"{m}-{i}" for i, (m, _) in enumerate(_KV_CALLS)])
def test_kv_calls_as_each_caller(signed: Signed, method: str, request_: Any) -> None:
    signed.each(KV + method, request_)
    signed.same(KV + "Put", Req.PutRequest(key=b"/app/a", value=b"v0"), signed.root)


def _compare(key: bytes, value: bytes) -> Req.Compare:
    return Req.Compare(key=key, result=Req.Compare.EQUAL, target=Req.Compare.VALUE, value=value)


def _put_op(key: bytes) -> Req.RequestOp:
    return Req.RequestOp(request_put=Req.PutRequest(key=key, value=b"t"))


def _range_op(key: bytes) -> Req.RequestOp:
    return Req.RequestOp(request_range=Req.RangeRequest(key=key))


_TXNS = [
    Req.TxnRequest(compare=[_compare(b"/app/a", b"v0")], success=[_put_op(b"/app/t")],
                   failure=[_range_op(b"/app/a")]),
    Req.TxnRequest(compare=[_compare(b"/app/a", b"v0")], success=[_put_op(b"/app/t")],
                   failure=[_put_op(b"/other/t")]),
    Req.TxnRequest(compare=[_compare(b"/app/a", b"no")], success=[_range_op(b"/other/a")],
                   failure=[_range_op(b"/app/a"), _put_op(b"/wo/t")]),
    Req.TxnRequest(compare=[_compare(b"/other/a", b"v0")], success=[_put_op(b"/app/t")]),
    Req.TxnRequest(compare=[_compare(b"/wo/a", b"v0")], success=[_put_op(b"/wo/t")]),
    Req.TxnRequest(success=[Req.RequestOp(request_delete_range=Req.DeleteRangeRequest(key=b"/app/t",
                                                                                       prev_kv=True))]),
]


@pytest.mark.parametrize("request_", _TXNS, ids=[f"txn-{i}" for i in range(len(_TXNS))])
def test_txns_with_compares_and_both_branches_as_each_caller(signed: Signed, request_: Any) -> None:
    signed.each(KV + "Txn", request_)


def _nested(key: bytes) -> Req.TxnRequest:
    return Req.TxnRequest(success=[Req.RequestOp(request_txn=Req.TxnRequest(success=[_range_op(key)]))])


def _differs(signed: Signed, path: str, request: Any, who: Who, code: str, details: str) -> None:
    """README's known difference: etcd 3.4.23 answers; confagent refuses with ``code`` and ``details``."""
    theirs = signed.pair.etcd.unary(path, request, metadata=who.etcd)
    ours = signed.pair.ours.unary(path, request, metadata=who.ours)
    assert theirs.code.name == "OK", theirs
    assert (ours.code.name, ours.details) == (code, details), ours


def test_a_nested_txn_is_checked_where_etcd_3_4_lets_it_through(signed: Signed) -> None:
    """etcd 3.4.23 checks a txn's own operations, not those of a txn inside it."""
    for who in signed.callers()[1:]:
        signed.same(KV + "Txn", _nested(b"/app/a"), who)
    signed.same(KV + "Txn", _nested(b"/other/a"), signed.root)
    _differs(signed, KV + "Txn", _nested(b"/other/a"), signed.alice, "PERMISSION_DENIED",
             "etcdserver: permission denied")
    for key in (b"/app/a", b"/other/a"):
        _differs(signed, KV + "Txn", _nested(key), Who("nobody"), "INVALID_ARGUMENT",
                 "etcdserver: user name is empty")


# -- leases ---------------------------------------------------------------------------------
def test_leases_holding_keys_the_user_may_not_write(signed: Signed) -> None:
    root, alice = signed.root, signed.alice
    signed.same(LEASE + "LeaseGrant", Req.LeaseGrantRequest(TTL=600, ID=777), root)
    signed.same(KV + "Put", Req.PutRequest(key=b"/other/l", value=b"v", lease=777), root)
    signed.same(LEASE + "LeaseGrant", Req.LeaseGrantRequest(TTL=600, ID=778), alice)
    signed.same(KV + "Put", Req.PutRequest(key=b"/app/l", value=b"v", lease=778), alice)
    for who in signed.callers():
        renew = [Req.LeaseKeepAliveRequest(ID=777)]
        theirs = signed.pair.etcd.stream(LEASE + "LeaseKeepAlive", renew, count=1, metadata=who.etcd)
        ours = signed.pair.ours.stream(LEASE + "LeaseKeepAlive", renew, count=1, metadata=who.ours)
        assert_same(f"LeaseKeepAlive as {who.name}", 777, theirs, ours)
        theirs = signed.pair.etcd.unary(LEASE + "LeaseLeases", Req.LeaseLeasesRequest(), metadata=who.etcd)
        ours = signed.pair.ours.unary(LEASE + "LeaseLeases", Req.LeaseLeasesRequest(), metadata=who.ours)
        for answer in (theirs, ours):  # etcd's order is a Go map's
            answer.body["leases"].sort(key=repr)
        assert_same(f"LeaseLeases as {who.name}", (), theirs, ours)
    for who in signed.callers()[:-1]:
        signed.same(KV + "Put", Req.PutRequest(key=b"/app/l2", value=b"v", lease=777), who)
        signed.same(LEASE + "LeaseRevoke", Req.LeaseRevokeRequest(ID=777), who)
        signed.same(LEASE + "LeaseTimeToLive", Req.LeaseTimeToLiveRequest(ID=777), who, mask=("TTL",))
        if who in (alice, root):
            signed.same(LEASE + "LeaseTimeToLive", Req.LeaseTimeToLiveRequest(ID=778, keys=True), who,
                        mask=("TTL",))
    # README's known difference: asking for a lease's keys wants read on them (etcd 3.4.23 asks nothing)
    ask = Req.LeaseTimeToLiveRequest(ID=777, keys=True)
    _differs(signed, LEASE + "LeaseTimeToLive", ask, alice, "PERMISSION_DENIED",
             "etcdserver: permission denied")
    for lease_id in (777, 778):
        _differs(signed, LEASE + "LeaseTimeToLive", Req.LeaseTimeToLiveRequest(ID=lease_id, keys=True),
                 Who("nobody"), "INVALID_ARGUMENT", "etcdserver: user name is empty")
        _differs(signed, LEASE + "LeaseTimeToLive", Req.LeaseTimeToLiveRequest(ID=lease_id, keys=True),
                 signed.callers()[1], "UNAUTHENTICATED", "etcdserver: invalid auth token")
    signed.same(LEASE + "LeaseTimeToLive", ask, root, mask=("TTL",))
    for lease_id in (777, 778):
        signed.same(LEASE + "LeaseRevoke", Req.LeaseRevokeRequest(ID=lease_id), root)
    signed.same(KV + "Range", Req.RangeRequest(key=b"/", range_end=b"0"), root)


# -- maintenance and cluster: root's ----------------------------------------------------------
_ADMIN_CALLS: list[tuple[str, Any, tuple[str, ...]]] = [
    (MAINTENANCE + "Hash", Req.HashRequest(), ("hash",)),
    (MAINTENANCE + "HashKV", Req.HashKVRequest(), ("hash",)),
    (MAINTENANCE + "Defragment", Req.DefragmentRequest(), ()),
    (MAINTENANCE + "Status", Req.StatusRequest(), ("version", "dbSize", "leader", "raftIndex", "raftTerm",
                                                   "raftAppliedIndex", "dbSizeInUse")),
    (MAINTENANCE + "Alarm", Req.AlarmRequest(), ()),
    (MAINTENANCE + "MoveLeader", Req.MoveLeaderRequest(targetID=1), ()),
    (CLUSTER + "MemberList", Req.MemberListRequest(), ("members",)),
    (CLUSTER + "MemberRemove", Req.MemberRemoveRequest(ID=1), ()),
    (CLUSTER + "MemberUpdate", Req.MemberUpdateRequest(ID=1, peerURLs=["http://127.0.0.1:1"]), ()),
    (CLUSTER + "MemberPromote", Req.MemberPromoteRequest(ID=1), ()),
    (CLUSTER + "MemberAdd", Req.MemberAddRequest(peerURLs=["http://127.0.0.1:1"], isLearner=True), ()),
]


@pytest.mark.parametrize(("path", "request_", "mask"), _ADMIN_CALLS,
                         ids=[f"{p.rsplit('/', 1)[1]}" for p, _, _ in _ADMIN_CALLS])
def test_maintenance_and_cluster_calls_as_each_caller(signed: Signed, path: str, request_: Any,
                                                      mask: tuple[str, ...]) -> None:
    callers = signed.callers()
    for who in callers[:-1] if path.endswith("MemberAdd") else callers:  # root's would add a member
        signed.same(path, request_, who, mask=mask)


def test_snapshot_as_each_caller(signed: Signed) -> None:
    for who in signed.callers():
        theirs = signed.pair.etcd.stream(MAINTENANCE + "Snapshot", [Req.SnapshotRequest()], count=1,
                                         metadata=who.etcd)
        ours = signed.pair.ours.stream(MAINTENANCE + "Snapshot", [Req.SnapshotRequest()], count=1,
                                       metadata=who.ours)
        assert (ours.code, ours.details, len(ours.messages)) == (theirs.code, theirs.details,
                                                                 len(theirs.messages)), who.name


# -- watch -----------------------------------------------------------------------------------
def _watch(server: Server, metadata: Metadata, *ranges: tuple[bytes, bytes]) -> list[Json]:
    stream = Stream(server, WATCH, metadata=metadata)
    try:
        for key, range_end in ranges:
            stream.send(Req.WatchRequest(create_request=Req.WatchCreateRequest(key=key, range_end=range_end)))
        return stream.read(len(ranges))
    finally:
        stream.cancel()


def test_watch_creates_on_permitted_and_forbidden_ranges_as_each_caller(signed: Signed) -> None:
    ranges = ((b"/app/", b"/app0"), (b"/other/", b"/other0"), (b"/app/a", b""), (b"/wo/", b"/wo0"))
    for who in signed.callers():
        theirs = _watch(signed.pair.etcd, who.etcd, *ranges)
        ours = _watch(signed.pair.ours, who.ours, *ranges)
        assert normalize(ours) == normalize(theirs), who.name


# -- the JSON gateway --------------------------------------------------------------------------
def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _gateway_token(metadata: Metadata) -> dict[str, str]:
    return {"Authorization": metadata[0][1]} if metadata else {}


def _post(url: str, path: str, body: Json, headers: dict[str, str]) -> tuple[int, Json]:
    if path == "/v3/watch":  # a stream: its first line
        with httpx.stream("POST", url + path, json=body, headers=headers, timeout=10.0) as response:
            return response.status_code, json.loads(next(response.iter_lines()))
    response = httpx.post(url + path, json=body, headers=headers, timeout=10.0)
    return response.status_code, response.json()


_GATEWAY_CALLS: list[tuple[str, Json]] = [
    ("/v3/auth/authenticate", {"name": "alice", "password": "wrong"}),
    ("/v3/auth/authenticate", {"name": "alice", "password": "alice-pw"}),
    ("/v3/auth/user/list", {}),
    ("/v3/auth/user/get", {"name": "alice"}),
    ("/v3/auth/role/get", {"role": "ro"}),
    ("/v3/auth/user/add", {"name": ""}),
    ("/v3/kv/range", {"key": _b64(b"/app/a")}),
    ("/v3/kv/range", {"key": _b64(b"/other/a")}),
    ("/v3/kv/put", {"key": _b64(b"/app/g"), "value": _b64(b"1"), "prev_kv": True}),
    ("/v3/kv/put", {"key": _b64(b"/other/g"), "value": _b64(b"1")}),
    ("/v3/kv/txn", {"compare": [{"key": _b64(b"/app/a"), "target": "VALUE", "value": _b64(b"v0")}],
                    "success": [{"request_put": {"key": _b64(b"/app/g"), "value": _b64(b"2")}}],
                    "failure": [{"request_range": {"key": _b64(b"/other/a")}}]}),
    ("/v3/kv/txn", {"success": [{"request_range": {"key": _b64(b"/app/a")}}]}),
    ("/v3/maintenance/defragment", {}),
    ("/v3/maintenance/hash", {}),
    ("/v3/watch", {"create_request": {"key": _b64(b"/other/"), "range_end": _b64(b"/other0")}}),
    ("/v3/watch", {"create_request": {"key": _b64(b"/app/"), "range_end": _b64(b"/app0")}}),
]


@pytest.mark.parametrize(("path", "body"), _GATEWAY_CALLS,
                         ids=[f"{p}-{i}" for i, (p, _) in enumerate(_GATEWAY_CALLS)])
def test_gateway_answers_as_each_caller(signed: Signed, path: str, body: Json) -> None:
    for who in signed.callers():
        theirs = _post(signed.pair.etcd.url, path, body, _gateway_token(who.etcd))
        ours = _post(signed.pair.ours.url, path, body, _gateway_token(who.ours))
        mask = ("token", "hash")
        assert (ours[0], normalize(ours[1], mask)) == (theirs[0], normalize(theirs[1], mask)), (
            f"{path} as {who.name}")


# -- last: auth disabled and enabled again (tokens of before are gone) ------------------------------
def test_auth_disable_as_each_caller_then_enable_again(signed: Signed) -> None:
    before = signed.callers()
    signed.each(AUTH + "AuthDisable", Req.AuthDisableRequest())  # refused but for root
    for who in before:
        signed.same(KV + "Range", Req.RangeRequest(key=b"/other/a"), who)
        signed.same(AUTH + "UserList", Req.AuthUserListRequest(), who)
    signed.same(AUTH + "AuthDisable", Req.AuthDisableRequest(), Who("nobody"))
    root_pw = Req.AuthenticateRequest(name="root", password="root-pw")
    signed.same(AUTH + "Authenticate", root_pw, Who("nobody"))
    signed.same(AUTH + "AuthEnable", Req.AuthEnableRequest(), Who("nobody"))
    for who in before:
        signed.same(KV + "Range", Req.RangeRequest(key=b"/app/a"), who)
    signed.root, signed.alice = _sign_in(signed.pair, "root"), _sign_in(signed.pair, "alice")
    signed.each(KV + "Range", Req.RangeRequest(key=b"/app/a"))
