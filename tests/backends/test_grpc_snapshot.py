"""``GrpcSnapshotBackend`` against a real etcd 3.4 and a ``confagent store``: the snapshot it reads over gRPC
is the one ``EtcdBackend`` reads over the JSON gateway, key for key, at the same revision, with the same keys
left out; endpoints that do not answer are skipped, and named when none does. Its HTTP/2 (``GrpcCalls``):
answers larger than HTTP/2's default window and frame, requests larger than the server's windows, and a
refusal raised as the error the gateway gives for it."""

from __future__ import annotations

import asyncio
import base64
import functools
import socket
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from confagent.backends import BackendConfig, EtcdBackend, GrpcSnapshotBackend, Snapshot
from confagent.backends._grpc_calls import GrpcCalls
from confagent.client import ClientConfig
from confagent.errors import ClientError, Compacted, ConfigError
from confagent.kv import prefix_range
from confagent.testing import Processes, free_port, until
from confagent.wire import pb_decode_range_txn_response, pb_encode_range_txn_request
from tests.certs import launch_tls_pair, make_certs

PREFIXES = [f"/grpc/p{i:03d}" for i in range(300)]
"""More distinct prefixes than one txn may hold (128): three txns, the later two pinned to the first's
revision."""


class _Range(NamedTuple):
    """A ``wire.RangeAsked``."""

    key: bytes
    range_end: bytes
    limit: int = 0
    revision: int = 0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _load(url: str) -> None:
    """Keys under every other prefix, one outside them, one whose value is not UTF-8, then a change."""
    with httpx.Client(base_url=url, timeout=10) as http:
        puts = [(f"{prefix}/k{j}".encode(), f"v{j} {prefix}".encode())
                for prefix in PREFIXES[::2] for j in range(3)]
        puts += [(b"/grpc/outside", b"x"), (b"/grpc/p001/bad", b"\xff\xfe")]
        for start in range(0, len(puts), 100):
            chunk = puts[start:start + 100]
            success = [{"request_put": {"key": _b64(k), "value": _b64(v)}} for k, v in chunk]
            http.post("/v3/kv/txn", json={"success": success}).raise_for_status()
        http.post("/v3/kv/deleterange", json={"key": _b64(b"/grpc/p000/k0")}).raise_for_status()


async def _both(url: str) -> tuple[Snapshot, Snapshot]:
    grpc = GrpcSnapshotBackend([url], dial_timeout_s=5, command_timeout_s=10)
    gateway = EtcdBackend.connect(ClientConfig(endpoints=(url,)))
    try:
        return await grpc.snapshot(PREFIXES), await gateway.snapshot(PREFIXES)
    finally:
        await grpc.close()
        await gateway.close()


def test_the_snapshot_is_the_gateways(own_server: str) -> None:
    _load(own_server)
    over_grpc, over_gateway = asyncio.run(_both(own_server))
    assert over_grpc.revision == over_gateway.revision > 0
    assert dict(over_grpc.entries) == dict(over_gateway.entries)
    assert len(over_grpc.entries) == 150 * 3 - 1 and "/grpc/outside" not in over_grpc.entries
    assert [str(p) for p in over_grpc.problems] == [str(p) for p in over_gateway.problems] != []


def test_answers_and_requests_larger_than_http2_s_default_window(own_server: str) -> None:
    # 300 values of 1 KiB (an answer of 300 KiB: past the default window, 64 KiB, and frame, 16 KiB), and
    # 300 prefixes of 600 bytes (3 txns of more than 64 KiB each: past the server's windows for our DATA)
    values = {f"/big/{i:03d}".encode(): bytes([97 + i % 26]) * 1024 for i in range(300)}
    with httpx.Client(base_url=own_server, timeout=10) as http:
        for start in range(0, 300, 100):
            success = [{"request_put": {"key": _b64(k), "value": _b64(v)}}
                       for k, v in list(values.items())[start:start + 100]]
            http.post("/v3/kv/txn", json={"success": success}).raise_for_status()
    long = [f"/big/{i:03d}/{'x' * 600}" for i in range(300)]
    backend = GrpcSnapshotBackend([own_server], dial_timeout_s=5, command_timeout_s=10)
    expected = {key.decode(): value.decode() for key, value in values.items()}
    assert asyncio.run(backend.snapshot(["/big/"])).entries == expected
    assert asyncio.run(backend.snapshot(long)).entries == {}


def test_a_refused_call_raises_the_gateway_s_error(own_server: str) -> None:
    _load(own_server)
    with httpx.Client(base_url=own_server, timeout=10) as http:
        revision = int(http.post("/v3/kv/range", json={"key": _b64(b"/")}).json()["header"]["revision"])
        http.post("/v3/kv/compaction", json={"revision": revision}).raise_for_status()
        refused = http.post("/v3/kv/range", json={"key": _b64(b"/grpc"), "revision": 1})
    compacted = _Range(*prefix_range(b"/grpc"), revision=1)
    port = int(own_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        calls = GrpcCalls(sock, f"127.0.0.1:{port}", "/etcdserverpb.KV/Txn", "http")
        with pytest.raises(Compacted) as raised:
            calls.unary([pb_encode_range_txn_request([compacted])])
        assert str(raised.value) == refused.json()["message"]
        # the connection serves the next call (its header blocks decoded in order)
        (answer,) = calls.unary([pb_encode_range_txn_request([])])
        assert pb_decode_range_txn_response(answer).revision == revision


def test_an_endpoint_that_does_not_answer_is_skipped(own_server: str) -> None:
    _load(own_server)
    dead = f"http://127.0.0.1:{free_port()}"

    async def body() -> None:
        backend = GrpcSnapshotBackend([dead, own_server], dial_timeout_s=5, command_timeout_s=10)
        assert len((await backend.snapshot(["/grpc/p002"])).entries) == 3
        alone = GrpcSnapshotBackend([dead], dial_timeout_s=5, command_timeout_s=10)
        with pytest.raises(ClientError, match=f"no endpoint answered: {dead}: "):
            await alone.snapshot(["/grpc/p002"])

    asyncio.run(body())


def test_an_endpoint_that_never_answers_times_out_and_the_next_is_asked(own_server: str) -> None:
    _load(own_server)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects (the kernel's backlog), never answers
        mute = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def body() -> None:
            backend = GrpcSnapshotBackend([mute, own_server], dial_timeout_s=5, command_timeout_s=0.5)
            assert len((await backend.snapshot(["/grpc/p002"])).entries) == 3
            alone = GrpcSnapshotBackend([mute], dial_timeout_s=5, command_timeout_s=0.5)
            with pytest.raises(ClientError, match=f"no endpoint answered: {mute}: timed out"):
                await alone.snapshot(["/grpc/p002"])

        asyncio.run(body())


def test_the_first_request_is_sent_before_anything_reads_its_answer() -> None:
    # snapshot() sends it on the caller's thread, and reads the answer in a worker thread (rule 6)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        reading = GrpcSnapshotBackend([url], dial_timeout_s=5, command_timeout_s=5)._reading(["/sent/"])
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(5)
            received = b""
            while b"/sent0" not in received:  # the range's end: the last bytes of the call's message
                data = connection.recv(65536)
                assert data, received
                received += data
        assert received.startswith(b"PRI * HTTP/2.0\r\n")
        with pytest.raises(ClientError, match=f"no endpoint answered: {url}: "):
            reading.answer()  # the connection closed, and no other endpoint


@pytest.mark.parametrize(("config", "served"), [
    (BackendConfig(backend="etcd", nodes=("http://127.0.0.1:2379", "http://10.0.0.1:2379")), True),
    (BackendConfig(backend="etcd"), True),
    (BackendConfig(backend="etcd", nodes=("https://127.0.0.1:2379",)), False),
    (BackendConfig(backend="etcd", nodes=("https://127.0.0.1:2379",), client_cakeys=Path("ca.crt")), True),
    (BackendConfig(backend="etcd", username="root", password="secret"), False),
    (BackendConfig(backend="env"), False),
])
def test_it_serves_plain_http_without_credentials(config: BackendConfig, served: bool) -> None:
    assert GrpcSnapshotBackend.serves(config) is served


def test_the_changes_end_when_closed() -> None:
    async def body() -> None:
        backend = GrpcSnapshotBackend(["http://127.0.0.1:1"], dial_timeout_s=1, command_timeout_s=1)
        changes = backend.changes(["/a"], 0)
        waiting = asyncio.ensure_future(anext(changes, None))
        await asyncio.sleep(0)
        await backend.close()
        assert await waiting is None

    asyncio.run(body())


def test_over_tls_with_a_client_certificate(tmp_path: Path, processes: Processes, etcd_binary: str) -> None:
    certs = make_certs(tmp_path / "certs")
    tls = ["--cert-file", str(certs / "server.crt"), "--key-file", str(certs / "server.key"),
           "--client-cert-auth", "--trusted-ca-file", str(certs / "ca.crt")]
    for server in launch_tls_pair(processes, tmp_path, etcd_binary, tls):
        backend = GrpcSnapshotBackend.for_config(BackendConfig(
            backend="etcd", nodes=(server.url,), client_cakeys=certs / "ca.crt",
            client_cert=certs / "client.crt", client_key=certs / "client.key"))
        until(functools.partial(_answers, backend), f"{server.kind} to answer over TLS", server.log_path)
        without = GrpcSnapshotBackend.for_config(BackendConfig(
            backend="etcd", nodes=(server.url,), client_cakeys=certs / "ca.crt"))
        with pytest.raises(ClientError, match=f"no endpoint answered: {server.url}: "):
            asyncio.run(without.snapshot(["/grpc"]))


def _answers(backend: GrpcSnapshotBackend) -> bool:
    try:
        return asyncio.run(backend.snapshot(["/grpc"])).revision > 0
    except ClientError:
        return False


def test_unloadable_tls_files_are_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot load the client TLS files"):
        GrpcSnapshotBackend.for_config(BackendConfig(backend="etcd", nodes=("https://127.0.0.1:1",),
                                                     client_cakeys=tmp_path / "ca.crt"))
