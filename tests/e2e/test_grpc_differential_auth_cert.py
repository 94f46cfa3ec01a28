"""``--client-cert-auth`` with auth enabled: a gRPC call with no token is made as its client certificate's
common name, on confagent and on a real etcd 3.4 alike; a token, when sent, wins over the certificate.

etcd and confagent serve https client URLs asking for client certificates.
Each client is a grpcio channel presenting one certificate: ``alice`` (a user
holding read-write on ``/app/``), ``root``, or ``client`` (a name no user has).
Every answer is compared, ids and tokens aside.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from confagent.testing import Processes, ServerProcess, until
from confagent.wire._pb import auth_pb2
from confagent.wire._pb import rpc_pb2 as Req  # noqa: N812
from tests.certs import launch_tls_pair, make_certs
from tests.e2e.grpc_differential import GrpcPair, Server, Stream, Who, normalize, sign_in

AUTH = "/etcdserverpb.Auth/"
KV = "/etcdserverpb.KV/"
WATCH = "/etcdserverpb.Watch/Watch"
CERT_NAMES = ("client", "alice", "root")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory, subprocesses: None) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"), users=("alice", "root"))


def _channel(url: str, certs: Path, name: str) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials((certs / "ca.crt").read_bytes(),
                                               (certs / f"{name}.key").read_bytes(),
                                               (certs / f"{name}.crt").read_bytes())
    return grpc.secure_channel(url.removeprefix("https://"), credentials,
                               options=[("grpc.use_local_subchannel_pool", 1)])


def _start(processes: Processes, base: Path, etcd_binary: str, certs: Path,
           ) -> tuple[ServerProcess, ServerProcess]:
    tls = ["--cert-file", str(certs / "server.crt"), "--key-file", str(certs / "server.key"),
           "--client-cert-auth", "--trusted-ca-file", str(certs / "ca.crt")]
    etcd, ours = launch_tls_pair(processes, base, etcd_binary, tls)
    for server in (etcd, ours):
        probe = Server(server.url, _channel(server.url, certs, "client"))
        try:
            until(lambda probe=probe: _answers(probe), f"{server.kind} to answer over TLS", server.log_path)
        finally:
            probe.close()
    return etcd, ours


def _answers(server: Server) -> bool:
    return server.unary(KV + "Range", Req.RangeRequest(key=b"k"), timeout_s=1.0).code == grpc.StatusCode.OK


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes, etcd_binary: str,
          certs: Path) -> Iterator[dict[str, GrpcPair]]:
    """A pair of channels to etcd and confagent for each certificate, auth enabled as the module says."""
    etcd, ours = _start(session_processes, tmp_path_factory.mktemp("cert-auth"), etcd_binary, certs)
    by_name = {}
    for name in CERT_NAMES:
        by_name[name] = GrpcPair(etcd.url, ours.url, etcd_channel=_channel(etcd.url, certs, name),
                                 ours_channel=_channel(ours.url, certs, name))
    try:
        _enable(by_name["client"])
        yield by_name
    finally:
        for pair in by_name.values():
            pair.close()
        ours.stop()
        etcd.stop()


def _enable(pair: GrpcPair) -> None:
    for name in ("root", "alice"):
        pair.same(AUTH + "UserAdd", Req.AuthUserAddRequest(name=name, password=name + "-pw"))
    pair.same(AUTH + "UserGrantRole", Req.AuthUserGrantRoleRequest(user="root", role="root"))
    pair.same(AUTH + "RoleAdd", Req.AuthRoleAddRequest(name="app"))
    perm = auth_pb2.Permission(permType=2, key=b"/app/", range_end=b"/app0")
    pair.same(AUTH + "RoleGrantPermission", Req.AuthRoleGrantPermissionRequest(name="app", perm=perm))
    pair.same(AUTH + "UserGrantRole", Req.AuthUserGrantRoleRequest(user="alice", role="app"))
    for key in (b"/app/a", b"/other/a"):
        pair.same(KV + "Put", Req.PutRequest(key=key, value=b"v0"))
    pair.same(AUTH + "AuthEnable", Req.AuthEnableRequest())


_CALLS: list[tuple[str, Any]] = [
    (KV + "Range", Req.RangeRequest(key=b"/app/a")),
    (KV + "Range", Req.RangeRequest(key=b"/other/a")),
    (KV + "Put", Req.PutRequest(key=b"/app/b", value=b"1")),
    (KV + "Put", Req.PutRequest(key=b"/other/b", value=b"1")),
    (KV + "DeleteRange", Req.DeleteRangeRequest(key=b"/app/b", prev_kv=True)),
    (AUTH + "UserGet", Req.AuthUserGetRequest(name="alice")),
    (AUTH + "UserList", Req.AuthUserListRequest()),
    (AUTH + "RoleAdd", Req.AuthRoleAddRequest(name="added")),
    ("/etcdserverpb.Maintenance/Hash", Req.HashRequest()),
]


@pytest.mark.parametrize("cert", CERT_NAMES)
@pytest.mark.parametrize(("path", "request_"), _CALLS,
                         ids=[f"{p.rsplit('/', 1)[1]}-{i}" for i, (p, _) in enumerate(_CALLS)])
def test_a_call_without_a_token_is_made_as_the_certificate_s_name(pairs: dict[str, GrpcPair], cert: str,
                                                                  path: str, request_: Any) -> None:
    pairs[cert].same(path, request_, mask=("hash",))
    if path.endswith("RoleAdd"):
        pairs["root"].same(AUTH + "RoleDelete", Req.AuthRoleDeleteRequest(role="added"))


def test_a_token_wins_over_the_certificate(pairs: dict[str, GrpcPair]) -> None:
    alice_cert, root_cert = pairs["alice"], pairs["root"]
    root, alice = sign_in(alice_cert, "root", "root-pw"), sign_in(root_cert, "alice", "alice-pw")
    bad = Who("bad token", (("token", "bad"),), (("token", "bad"),))
    for pair, who in ((alice_cert, root), (root_cert, alice), (root_cert, bad), (alice_cert, bad)):
        for path, request in _CALLS:
            pair.same_as(who, path, request, mask=("hash",))
            if path.endswith("RoleAdd"):
                pairs["root"].same(AUTH + "RoleDelete", Req.AuthRoleDeleteRequest(role="added"))


def _first(server: Server, metadata: Any, key: bytes, range_end: bytes) -> Any:
    stream = Stream(server, WATCH, metadata=metadata)
    try:
        stream.send(Req.WatchRequest(create_request=Req.WatchCreateRequest(key=key, range_end=range_end)))
        return normalize(stream.read(1))
    finally:
        stream.cancel()


@pytest.mark.parametrize("cert", CERT_NAMES)
def test_watch_creates_as_the_certificate_s_name(pairs: dict[str, GrpcPair], cert: str) -> None:
    pair = pairs[cert]
    for key, range_end in ((b"/app/", b"/app0"), (b"/other/", b"/other0")):
        assert _first(pair.ours, (), key, range_end) == _first(pair.etcd, (), key, range_end), (cert, key)


@pytest.mark.parametrize(("cert", "path", "request_", "code"), [
    ("alice", KV + "Range", Req.RangeRequest(key=b"/app/a"), "OK"),
    ("alice", KV + "Range", Req.RangeRequest(key=b"/other/a"), "PERMISSION_DENIED"),
    ("alice", AUTH + "UserList", Req.AuthUserListRequest(), "PERMISSION_DENIED"),
    ("root", AUTH + "UserList", Req.AuthUserListRequest(), "OK"),
    ("client", KV + "Range", Req.RangeRequest(key=b"/app/a"), "PERMISSION_DENIED"),
], ids=["alice-app", "alice-other", "alice-users", "root-users", "unknown-app"])
def test_the_certificate_names_the_user(pairs: dict[str, GrpcPair], cert: str, path: str, request_: Any,
                                        code: str) -> None:
    """What the comparisons above rest on: each server took the certificate's name as the user."""
    assert pairs[cert].same(path, request_).code.name == code


@pytest.mark.parametrize("cert", ["alice", "client"])
def test_the_gateway_refuses_a_certificate_with_a_name(pairs: dict[str, GrpcPair], certs: Path,
                                                       cert: str) -> None:
    """etcd 3.4's gateway would call as nobody, not as the name: it refuses to, 400 in plain text."""
    answers = []
    for server in (pairs[cert].etcd, pairs[cert].ours):
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        context.load_cert_chain(certs / f"{cert}.crt", certs / f"{cert}.key")
        with httpx.Client(verify=context, timeout=10.0) as client:
            responses = (
                client.post(server.url + "/v3/kv/range", json={"key": base64.b64encode(b"/app/a").decode()}),
                client.post(server.url + "/v3beta/auth/user/list", json={}),
                client.get(server.url + "/version"))
        answers.append([(r.status_code, r.headers["content-type"], r.text) for r in responses])
    assert answers[1] == answers[0]
    assert answers[0][0][0] == 400
