"""The real etcdctl over gRPC with TLS and client certificates (``--cacert/--cert/--key``) against a real
etcd 3.4 and ``confagent store`` serving https client URLs with ``--client-cert-auth``: the same commands,
outputs and exit codes compared; a client without a certificate refused by both; and curl, which offers
HTTP/2 and HTTP/1.1, reaching the JSON gateway on the same port as gRPC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from confagent.testing import Processes, ServerProcess, until
from tests.certs import launch_tls_pair, make_certs
from tests.cli.support import masked, rpc_errors

pytestmark = pytest.mark.etcd

Outcome = tuple[int, str, str]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory, subprocesses: None) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


def _tls_flags(certs: Path, client_cert_auth: bool) -> list[str]:
    flags = ["--cert-file", str(certs / "server.crt"), "--key-file", str(certs / "server.key")]
    if client_cert_auth:
        flags += ["--client-cert-auth", "--trusted-ca-file", str(certs / "ca.crt")]
    return flags


def _pair(processes: Processes, base: Path, etcd_binary: str, certs: Path, *, client_cert_auth: bool,
          ) -> tuple[ServerProcess, ServerProcess]:
    """etcd and confagent, each on an https client URL, started and answering etcdctl."""
    etcd, ours = launch_tls_pair(processes, base, etcd_binary, _tls_flags(certs, client_cert_auth))
    for server in (etcd, ours):
        until(_answering(processes, server, certs), f"{server.kind} to answer over TLS", server.log_path)
    return etcd, ours


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes, etcd_binary: str,
            certs: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """etcd and confagent, each on an https client URL requiring client certificates."""
    etcd, ours = _pair(session_processes, tmp_path_factory.mktemp("etcdctl-mtls"), etcd_binary, certs,
                       client_cert_auth=True)
    try:
        yield etcd, ours
    finally:
        ours.stop()
        etcd.stop()


@pytest.fixture(scope="module")
def tls_only(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes, etcd_binary: str,
             certs: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """etcd and confagent on https client URLs, no client certificate asked for."""
    etcd, ours = _pair(session_processes, tmp_path_factory.mktemp("etcdctl-tls"), etcd_binary, certs,
                       client_cert_auth=False)
    try:
        yield etcd, ours
    finally:
        ours.stop()
        etcd.stop()


def _answering(processes: Processes, server: ServerProcess, certs: Path) -> Callable[[], bool]:
    """Whether etcdctl with a certificate gets an answer (the kit's health probe has none)."""
    return lambda: _etcdctl(processes, server, certs, "endpoint", "health")[0] == 0


def _etcdctl(processes: Processes, server: ServerProcess, certs: Path | None, *args: str) -> Outcome:
    credentials = [] if certs is None else ["--cacert", str(certs / "ca.crt"), "--cert",
                                            str(certs / "client.crt"), "--key", str(certs / "client.key")]
    done = processes.run(["/usr/bin/etcdctl", f"--endpoints={server.url.removeprefix('https://')}",
                          *credentials, *args], env={"ETCDCTL_API": "3"})
    return done.returncode, masked(done.stdout.decode()), rpc_errors(done.stderr.decode())


def test_etcdctl_with_client_certificates(servers: tuple[ServerProcess, ServerProcess], certs: Path,
                                          processes: Processes) -> None:
    def commands(server: ServerProcess) -> list[Outcome]:
        outcomes = [_etcdctl(processes, server, certs, *args) for args in (
            ("put", "tls/a", "1"), ("get", "tls/", "--prefix", "-w", "json"), ("txn", "-w", "json"),
            ("del", "tls/a"), ("endpoint", "health"), ("member", "list", "-w", "json"))]
        return [(code, re.sub(r"took = \S+", "took", out), err) for code, out, err in outcomes]

    theirs, ours = commands(servers[0]), commands(servers[1])
    assert ours == theirs
    assert json.loads(re.sub(r":(ID|T)\b", ":0", ours[-1][1]))["members"][0]["clientURLs"][0].startswith(
        "https://")


def test_a_client_without_a_certificate_is_refused(servers: tuple[ServerProcess, ServerProcess], certs: Path,
                                                   processes: Processes) -> None:
    def refused(server: ServerProcess) -> list[Outcome]:
        """The outcomes, with only the ``Error:`` lines (what clientv3 logs of its balancer's state on
        the way depends on timing)."""
        quick = ("--dial-timeout", "1s", "--command-timeout", "1s", "get", "tls/a")
        outcomes = [_etcdctl(processes, server, None, "--cacert", str(certs / "ca.crt"), *quick),
                    _etcdctl(processes, server, None, *quick)]
        return [(code, out, "".join(re.findall(r"^Error:.*\n", err, re.M))) for code, out, err in outcomes]

    theirs, ours = refused(servers[0]), refused(servers[1])
    assert ours == theirs
    assert ours[0] == (1, "", "Error: context deadline exceeded\n")


def test_curl_reaches_the_gateway_on_the_grpc_port(servers: tuple[ServerProcess, ServerProcess], certs: Path,
                                                   processes: Processes) -> None:
    """curl offers h2 and http/1.1: etcd answers it over HTTP/2, confagent over HTTP/1.1 (its HTTP/2
    is gRPC's); the gateway's answer is the same."""

    def curl(server: ServerProcess, *args: str) -> tuple[int, str]:
        done = processes.run(["curl", "-s", "--cacert", str(certs / "ca.crt"), *args,
                              server.url + "/v3/kv/range", "-d", '{"key":"dGxzL2I="}'])
        return done.returncode, re.sub(r'"(cluster_id|member_id|revision|raft_term)":"\d+"', r'"\1":"N"',
                                       done.stdout.decode())

    with_certificate = ["--cert", str(certs / "client.crt"), "--key", str(certs / "client.key")]
    for server in servers:
        assert _etcdctl(processes, server, certs, "put", "tls/b", "2") == (0, "OK\n", "")
    theirs, ours = curl(servers[0], *with_certificate), curl(servers[1], *with_certificate)
    assert ours == theirs
    assert '"value":"Mg=="' in ours[1]
    assert curl(servers[1], "--http1.1", *with_certificate) == ours
    assert curl(servers[1])[0] != 0  # no certificate: the handshake fails, as etcd's
    assert curl(servers[0])[0] != 0


def test_etcdctl_over_tls_without_client_certificates(tls_only: tuple[ServerProcess, ServerProcess],
                                                      certs: Path, processes: Processes) -> None:
    """--cacert alone, or --insecure-skip-tls-verify, is enough; a cleartext client is not answered."""

    def commands(server: ServerProcess) -> list[Outcome]:
        quick = ("--dial-timeout", "1s", "--command-timeout", "1s")
        outcomes = [_etcdctl(processes, server, None, *args) for args in (
            ("--cacert", str(certs / "ca.crt"), "put", "tls/c", "3"),
            ("--cacert", str(certs / "ca.crt"), "get", "tls/c", "-w", "json"),
            ("--insecure-transport=false", "--insecure-skip-tls-verify", "get", "tls/c",
             "--print-value-only"),
            (*quick, "get", "tls/c"))]
        return [(code, out, "".join(re.findall(r"^Error:.*\n", err, re.M))) for code, out, err in outcomes]

    theirs, ours = commands(tls_only[0]), commands(tls_only[1])
    assert ours == theirs
    assert ours[2] == (0, "3\n", "") and ours[3] == (1, "", "Error: context deadline exceeded\n")
