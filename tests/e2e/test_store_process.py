"""The store as a process: clean stops, restarts that keep data and leases, TLS, hostile clients."""

from __future__ import annotations

import base64
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import orjson
import pytest

from confagent.testing import Processes, ServerProcess, b64, free_port, store_process, until
from confagent.wire._pb import rpc_pb2
from tests.certs import make_certs


def _post(url: str, path: str, body: object, **kwargs: object) -> dict[str, object]:
    reply = httpx.post(url + path, content=orjson.dumps(body), timeout=10, **kwargs)  # type: ignore[arg-type]
    assert reply.status_code == 200, reply.text
    result: dict[str, object] = reply.json()
    return result


@pytest.fixture
def store(tmp_path: Path, processes: Processes) -> ServerProcess:
    return processes.store(tmp_path / "data")


def test_sigterm_stops_cleanly_and_logs_where_it_listens(tmp_path: Path, processes: Processes) -> None:
    server = processes.store(tmp_path / "data")
    assert server.stop() == 0
    log = server.log_path.read_text()
    assert "store started" in log and server.url in log
    assert "store stopped" in log


def _read_until_closed(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def test_sigterm_ends_open_watch_and_keepalive_streams_and_exits(tmp_path: Path,
                                                                 processes: Processes) -> None:
    server = processes.store(tmp_path / "data")
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    lease = _post(server.url, "/v3/lease/grant", {"TTL": 60})
    streams = {
        "/v3/watch": orjson.dumps({"create_request": {"key": "AA==", "range_end": "AA=="}}),
        "/v3/lease/keepalive": orjson.dumps({"ID": lease["ID"]}),
    }
    conns = []
    for path, body in streams.items():
        conn = socket.create_connection((host, port))
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
                     f"{len(body):x}\r\n".encode() + body + b"\r\n")
        conns.append(conn)
    for conn in conns:
        conn.settimeout(15)
        received = b""
        while b"result" not in received:  # the stream is open and answering
            received += conn.recv(65536)
    assert server.stop(timeout_s=30) == 0
    for conn in conns:
        with conn:
            assert _read_until_closed(conn).endswith(b"0\r\n\r\n")  # the response was ended, not dropped
    assert "store stopped" in server.log_path.read_text()


def test_restart_comes_back_at_the_same_revision_with_data_and_leases(tmp_path: Path,
                                                                      processes: Processes) -> None:
    port = free_port()
    server = processes.store(tmp_path / "data", port=port)
    _post(server.url, "/v3/lease/grant", {"TTL": 600, "ID": "77"})
    _post(server.url, "/v3/kv/put", {"key": b64("a"), "value": b64("1"), "lease": "77"})
    _post(server.url, "/v3/kv/put", {"key": b64("b"), "value": b64("2")})
    before = _post(server.url, "/v3/kv/range", {"key": "AA==", "range_end": "AA=="})
    server.stop()
    server = processes.store(tmp_path / "data", port=port)
    try:
        after = _post(server.url, "/v3/kv/range", {"key": "AA==", "range_end": "AA=="})
        assert after["kvs"] == before["kvs"]
        assert after["header"]["revision"] == before["header"]["revision"]  # type: ignore[index]
        ttl = _post(server.url, "/v3/lease/timetolive", {"ID": "77", "keys": True})
        assert ttl["keys"] == [b64("a")] and int(ttl["TTL"]) > 590  # type: ignore[arg-type]
    finally:
        server.stop()


def test_restart_after_many_snapshots(tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    server = processes.store(tmp_path / "data", port=port, args=("--snapshot-count", "50"))
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(400):
            client.post("/v3/kv/put", json={"key": b64(f"k{i % 7}"), "value": b64(str(i))})
    server.stop()
    assert len(list((tmp_path / "data" / "member" / "snap").glob("*.snap"))) >= 1
    server = processes.store(tmp_path / "data", port=port)
    try:
        reply = _post(server.url, "/v3/kv/range", {"key": b64("k0")})
        assert reply["header"]["revision"] == "401"  # type: ignore[index]
        assert base64.b64decode(reply["kvs"][0]["value"]) == b"399"  # type: ignore[index]
    finally:
        server.stop()


def test_bad_flags_give_one_clear_line_and_exit_non_zero(tmp_path: Path, processes: Processes) -> None:
    result = processes.confagent("store", "--data-dir", str(tmp_path / "d"),
                                 "--listen-client-urls", "ftp://127.0.0.1:1")
    assert result.returncode != 0
    assert "--listen-client-urls" in result.stderr and "Traceback" not in result.stderr


def test_a_client_that_never_reads_its_watch_does_not_stop_the_server(store: ServerProcess) -> None:
    host, port = "127.0.0.1", int(store.url.rsplit(":", 1)[1])
    body = orjson.dumps({"create_request": {"key": "AA==", "range_end": "AA=="}})
    request = (f"POST /v3/watch HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
               .encode() + body)
    with socket.create_connection((host, port)) as sleeper:
        sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sleeper.sendall(request)
        value = b64("x" * 20_000)
        with httpx.Client(base_url=store.url, timeout=10) as client:
            for i in range(300):
                reply = client.post("/v3/kv/put", json={"key": b64(f"w{i}"), "value": value})
                assert reply.status_code == 200
        reply = httpx.post(store.url + "/v3/kv/range", json={"key": b64("w299")}, timeout=10)
        assert reply.status_code == 200


def test_a_watch_stream_closed_half_way_is_cleaned_up(store: ServerProcess) -> None:
    host, port = "127.0.0.1", int(store.url.rsplit(":", 1)[1])
    body = b'{"create_request":{"key":"YQ=="}}{"create_req'
    for _ in range(20):
        with socket.create_connection((host, port)) as conn:
            conn.sendall(f"POST /v3/watch HTTP/1.1\r\nHost: {host}\r\nContent-Length: 999\r\n\r\n"
                         .encode() + body)
    reply = _post(store.url, "/v3/kv/put", {"key": b64("a"), "value": b64("1")})
    assert reply["header"]
    assert httpx.get(store.url + "/health", timeout=5).json() == {"health": "true"}


def test_mutual_tls(tmp_path: Path, processes: Processes) -> None:
    certs = make_certs(tmp_path / "certs")
    url = f"https://127.0.0.1:{free_port()}"
    store = processes.server(store_process(url, tmp_path / "data", [
        "--cert-file", str(certs / "server.crt"), "--key-file", str(certs / "server.key"),
        "--client-cert-auth", "--trusted-ca-file", str(certs / "ca.crt"),
        "--listen-peer-urls", f"http://127.0.0.1:{free_port()}"],
        tmp_path / "log"))
    store.launch()
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    context.load_cert_chain(str(certs / "client.crt"), str(certs / "client.key"))
    replies: list[httpx.Response] = []

    def answered() -> bool:
        assert store.process is not None and store.process.poll() is None, (tmp_path / "log").read_text()
        try:
            replies.append(httpx.get(url + "/health", verify=context, timeout=2))
        except httpx.HTTPError:
            return False
        return True

    until(answered, "the store to answer over TLS", tmp_path / "log", pause_s=0.1)
    assert replies[-1].json() == {"health": "true"}
    put = httpx.post(url + "/v3/kv/put", json={"key": b64("t"), "value": b64("s")}, verify=context)
    assert put.status_code == 200
    anonymous = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", verify=anonymous, timeout=5)
    ca, key, cert = ((certs / name).read_bytes() for name in ("ca.crt", "client.key", "client.crt"))
    assert _grpc_range(url, grpc.ssl_channel_credentials(ca, key, cert), b"t") == [(b"t", b"s")]
    with pytest.raises(grpc.RpcError):  # gRPC on the same port (ALPN h2), the same client-cert rule
        _grpc_range(url, grpc.ssl_channel_credentials(ca), b"t")


def _grpc_range(url: str, credentials: grpc.ChannelCredentials, key: bytes) -> list[tuple[bytes, bytes]]:
    """etcd's KV Range over gRPC with TLS: the keys and values found."""
    with grpc.secure_channel(url.removeprefix("https://"), credentials) as channel:
        call = channel.unary_unary("/etcdserverpb.KV/Range",
                                   request_serializer=rpc_pb2.RangeRequest.SerializeToString,
                                   response_deserializer=rpc_pb2.RangeResponse.FromString)
        reply = call(rpc_pb2.RangeRequest(key=key), timeout=10)
    return [(kv.key, kv.value) for kv in reply.kvs]


class ChunkedWatch:
    """A watch stream read from a raw socket, so the test decides when (and how slowly) to read."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._buffer = b""
        self._head_done = False
        conn.settimeout(1.0)

    def results(self, enough: Callable[[list[dict[str, Any]]], bool], deadline_s: float,
                ) -> list[dict[str, Any]]:
        """Read result messages until ``enough(results)`` or the deadline."""
        results: list[dict[str, Any]] = []
        deadline = time.monotonic() + deadline_s
        while not enough(results) and time.monotonic() < deadline:
            try:
                data = self._conn.recv(1 << 20)
            except TimeoutError:
                continue
            assert data, "the server closed the stream"
            self._buffer += data
            results.extend(self._complete_chunks())
        return results

    def _complete_chunks(self) -> list[dict[str, Any]]:
        if not self._head_done:
            if b"\r\n\r\n" not in self._buffer:
                return []
            self._buffer = self._buffer.split(b"\r\n\r\n", 1)[1]
            self._head_done = True
        found: list[dict[str, Any]] = []
        while b"\r\n" in self._buffer:
            size_line, rest = self._buffer.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                break
            chunk, self._buffer = rest[:size], rest[size + 2:]
            found.extend(orjson.loads(line)["result"] for line in chunk.splitlines())
        return found


def _events(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for result in results for event in result.get("events", [])]


def test_a_slow_watcher_catches_up_with_every_event_in_order(store: ServerProcess) -> None:
    host, port = "127.0.0.1", int(store.url.rsplit(":", 1)[1])
    body = orjson.dumps({"create_request": {"key": b64("slow/"), "range_end": b64("slow0")}})
    with socket.socket() as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.connect((host, port))
        conn.sendall(f"POST /v3/watch HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
                     .encode() + body)
        watch = ChunkedWatch(conn)
        assert watch.results(bool, deadline_s=10)[0]["created"]
        value = b64("x" * 20_000)
        with httpx.Client(base_url=store.url, timeout=10) as client:
            for i in range(400):
                assert client.post("/v3/kv/put", json={"key": b64(f"slow/{i:04}"),
                                                        "value": value}).status_code == 200
        events = _events(watch.results(lambda r: len(_events(r)) >= 400, deadline_s=30))
    keys = [base64.b64decode(e["kv"]["key"]).decode() for e in events]
    assert keys == [f"slow/{i:04}" for i in range(400)]


def test_progress_notifications_at_the_configured_interval(tmp_path: Path, processes: Processes) -> None:
    server = processes.store(tmp_path / "data",
                         args=("--experimental-watch-progress-notify-interval", "200ms"))
    try:
        _post(server.url, "/v3/kv/put", {"key": b64("p"), "value": b64("1")})
        host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
        body = orjson.dumps({"create_request": {"key": b64("p"), "progress_notify": True}})
        with socket.create_connection((host, port)) as conn:
            conn.sendall(f"POST /v3/watch HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
                         .encode() + body)
            results = ChunkedWatch(conn).results(lambda r: len(r) >= 3, deadline_s=10)
        assert results[0]["created"]
        progress = results[1:3]
        assert all(set(r) == {"header"} and r["header"]["revision"] == "2" for r in progress), progress
    finally:
        server.stop()
