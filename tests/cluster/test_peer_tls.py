"""Peer TLS with mutual authentication: a three-member cluster over https:// peer URLs elects
and replicates, a member whose certificate another CA signed is refused, and a member change
sent to a follower reaches the leader over the peer transport (client TLS is no way there)."""

from __future__ import annotations

import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from confagent.testing import (
    Processes,
    ServerProcess,
    b64,
    eventually,
    free_port,
    store_process,
    unb64,
)


@dataclass(frozen=True)
class Credentials:
    """A member's peer certificate and key, and the CA it trusts for its peers."""

    cert: Path
    key: Path
    ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
             cwd=directory)


def _make_peer_cert(directory: Path, name: str, ca: str) -> Credentials:
    """A certificate for 127.0.0.1 usable by both ends of a peer connection, signed by ``ca``."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory)
    (directory / f"{name}.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
             cwd=directory)
    return Credentials(directory / f"{name}.crt", directory / f"{name}.key", directory / "ca.crt")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory, subprocesses: None) -> dict[str, Credentials]:
    """Three members' credentials from one CA, and a rogue's from another CA (trusting the first),
    made by openssl."""
    directory = tmp_path_factory.mktemp("certs")
    _make_ca(directory, "ca")
    _make_ca(directory, "rogue-ca")
    made = {name: _make_peer_cert(directory, name, "ca") for name in ("m0", "m1", "m2")}
    made["rogue"] = _make_peer_cert(directory, "rogue", "rogue-ca")
    return made


def _tls_cluster(base_dir: Path, credentials: list[Credentials], *,
                 client_tls: bool = False) -> list[ServerProcess]:
    """Members of one new cluster with https:// peer URLs and mutual TLS, not yet started; with
    ``client_tls``, their client URLs are https:// too, with mutual TLS (the same certificates)."""
    names = [f"m{i}" for i in range(len(credentials))]
    peer_urls = {name: f"https://127.0.0.1:{free_port()}" for name in names}
    initial = ",".join(f"{name}={url}" for name, url in peer_urls.items())
    members = []
    for name, creds in zip(names, credentials, strict=True):
        client = ["--cert-file", str(creds.cert), "--key-file", str(creds.key), "--client-cert-auth",
                  "--trusted-ca-file", str(creds.ca)] if client_tls else []
        members.append(store_process(f"{'https' if client_tls else 'http'}://127.0.0.1:{free_port()}",
                                     base_dir / name, [
            "--name", name, "--listen-peer-urls", peer_urls[name],
            "--initial-advertise-peer-urls", peer_urls[name], "--initial-cluster", initial,
            "--peer-cert-file", str(creds.cert), "--peer-key-file", str(creds.key),
            "--peer-trusted-ca-file", str(creds.ca), "--peer-client-cert-auth", *client]))
    return members


def _launch(members: list[ServerProcess], processes: Processes) -> None:
    for member in members:
        processes.server(member).launch()


def _put(member: ServerProcess, key: str, value: str) -> None:
    reply = httpx.post(member.url + "/v3/kv/put", json={"key": b64(key), "value": b64(value)},
                       timeout=10)
    assert reply.status_code == 200, reply.text


def _value(member: ServerProcess, key: str, *, serializable: bool = False) -> str | None:
    reply = httpx.post(member.url + "/v3/kv/range",
                       json={"key": b64(key), "serializable": serializable}, timeout=10)
    assert reply.status_code == 200, reply.text
    kvs = reply.json().get("kvs")
    return unb64(kvs[0]["value"]) if kvs else None


def _peer_address(member: ServerProcess) -> tuple[str, int]:
    url = urlsplit(member.argv[member.argv.index("--listen-peer-urls") + 1])
    assert url.hostname and url.port
    return url.hostname, url.port


def _peer_port_accepts(address: tuple[str, int], creds: Credentials) -> bool:
    """Whether a member's peer port keeps a TLS connection presenting ``creds`` open.

    A TLS 1.3 server checks the client's certificate after the client's side of the
    handshake is done, so a refusal shows on the first read: an alert or the end of
    the stream. An accepted peer's connection stays open and silent (peers only write).
    """
    context = ssl.create_default_context(cafile=str(creds.ca))
    context.load_cert_chain(str(creds.cert), str(creds.key))
    with socket.create_connection(address, timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=address[0]) as conn:
        conn.settimeout(1.0)
        try:
            return conn.recv(1) != b""
        except ssl.SSLError:
            return False
        except TimeoutError:
            return True


def test_members_with_mutual_peer_tls_elect_and_replicate(
        tmp_path: Path, certs: dict[str, Credentials], processes: Processes) -> None:
    members = _tls_cluster(tmp_path, [certs["m0"], certs["m1"], certs["m2"]])
    _launch(members, processes)
    for member in members:
        member.wait_healthy()
    _put(members[2], "over-tls", "yes")
    assert [_value(m, "over-tls") for m in members] == ["yes"] * 3


def test_a_member_with_a_certificate_from_another_ca_cannot_join(
        tmp_path: Path, certs: dict[str, Credentials], processes: Processes) -> None:
    members = _tls_cluster(tmp_path, [certs["m0"], certs["m1"], certs["rogue"]])
    _launch(members, processes)
    good, rogue = members[:2], members[2]
    for member in good:
        member.wait_healthy()
    _put(good[0], "members-only", "v")
    assert [_value(m, "members-only") for m in good] == ["v", "v"]

    assert not _peer_port_accepts(_peer_address(good[0]), certs["rogue"])
    assert _peer_port_accepts(_peer_address(good[0]), certs["m2"])  # one signed by the CA is taken
    assert httpx.get(rogue.url + "/health", timeout=5).status_code == 503
    assert _value(rogue, "members-only", serializable=True) is None
    _put(good[1], "still-serving", "v")
    assert _value(good[0], "still-serving") == "v"


def _one_leader(named: list[int | str]) -> bool:
    return len(set(named)) == 1 and isinstance(named[0], int) and named[0] != 0


def _client_context(creds: Credentials) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(creds.ca))
    context.load_cert_chain(str(creds.cert), str(creds.key))
    return context


def test_a_member_change_sent_to_a_follower_is_answered_by_the_leader_over_peer_tls(
        tmp_path: Path, certs: dict[str, Credentials], processes: Processes) -> None:
    """Client URLs on https:// with --client-cert-auth: a follower cannot reach its leader's client
    URL without a client certificate (the forward over HTTP failed with 'leader unreachable'); over
    the peer transport it can, and its answers, refusals included, are the leader's."""
    members = _tls_cluster(tmp_path, [certs["m0"], certs["m1"], certs["m2"]], client_tls=True)
    _launch(members, processes)
    tls = _client_context(certs["m0"])

    def post(member: ServerProcess, path: str, body: object) -> httpx.Response:
        return httpx.post(member.url + path, json=body, verify=tls, timeout=15)

    def leader_id(member: ServerProcess) -> int | str:
        """The leader a member names, or why it could not be asked (shown if the wait times out)."""
        try:
            return int(post(member, "/v3/maintenance/status", {}).json().get("leader", 0))
        except httpx.HTTPError as error:
            return repr(error)

    eventually(lambda: [leader_id(m) for m in members], _one_leader, "the members to agree on a leader",
               log=members[0].log_path)
    ids = {int(post(m, "/v3/maintenance/status", {}).json()["header"]["member_id"]): m for m in members}
    named = leader_id(members[0])
    assert isinstance(named, int)
    leader = ids[named]
    follower = next(m for m in members if m is not leader)

    add = {"peerURLs": [f"https://127.0.0.1:{free_port()}"], "isLearner": True}
    added = post(follower, "/v3/cluster/member/add", add)
    assert added.status_code == 200, added.text
    learner = added.json()["member"]
    assert learner["isLearner"] is True and learner["peerURLs"] == add["peerURLs"]
    assert len(added.json()["members"]) == 4
    assert learner["ID"] in {m["ID"] for m in post(leader, "/v3/cluster/member/list", {}).json()["members"]}

    refusals = [post(m, "/v3/cluster/member/add", add) for m in (follower, leader)]
    assert refusals[0].status_code == refusals[1].status_code != 200
    assert refusals[0].json() == refusals[1].json()

    removed = post(follower, "/v3/cluster/member/remove", {"ID": learner["ID"]})
    assert removed.status_code == 200, removed.text
    assert sorted(m["ID"] for m in removed.json()["members"]) == sorted(str(i) for i in ids)
